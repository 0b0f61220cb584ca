#include "checks/kept_session.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

const SteadyTime t0{std::chrono::seconds{100}};
constexpr milliseconds kInterval{1000};  // the check's, between the starts of two probes

// A connection that counts how many of its kind are open, and that the test can break.
struct FakeConn {
  static inline int open = 0;
  int id = 0;
  bool broken = false;
  bool owns = true;

  explicit FakeConn(int i) : id(i) { ++open; }
  FakeConn(FakeConn&& o) noexcept : id(o.id), broken(o.broken) { o.owns = false; }
  FakeConn& operator=(FakeConn&&) = delete;
  FakeConn(const FakeConn&) = delete;
  ~FakeConn() {
    if (owns) --open;
  }
  bool reusable() const { return !broken; }
};

// Opens FakeConns numbered 1, 2, ..., or fails while `refuse` is set; counts the attempts.
struct Connector {
  int attempts = 0;
  bool refuse = false;
  Result<FakeConn> operator()() {
    ++attempts;
    if (refuse) return makeError("connect", "Connection refused");
    return FakeConn(attempts);
  }
};

class KeptSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { FakeConn::open = 0; }
  void TearDown() override { EXPECT_EQ(FakeConn::open, 0) << "a session outlived its KeptSession"; }

  // The id of the session acquired at `now`, or 0 on an error (its message in last_error_).
  int probe(KeptSession<FakeConn>& s, SteadyTime now) {
    auto c = s.acquire(now, std::ref(connect_));
    const int id = c ? c.value()->id : 0;
    last_error_ = c ? "" : c.error().message;
    s.probeEnded();
    return id;
  }

  Connector connect_;
  std::string last_error_;
};

TEST_F(KeptSessionTest, OneSessionServesEveryProbeWithinItsLifetime) {
  {
    KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
    for (int i = 0; i < 9; ++i) EXPECT_EQ(probe(s, t0 + milliseconds{1000} * i), 1);
    EXPECT_EQ(connect_.attempts, 1);
    EXPECT_EQ(FakeConn::open, 1);  // held between probes
  }
}

// Probes later than the interval said (a slow one before them): the next finds the session past its
// lifetime and replaces it.
TEST_F(KeptSessionTest, ASessionIsReplacedWhenItsLifetimeIsReached) {
  KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
  EXPECT_EQ(probe(s, t0), 1);
  EXPECT_EQ(probe(s, t0 + milliseconds{8999}), 1);
  EXPECT_EQ(probe(s, t0 + milliseconds{10000}), 2);
  EXPECT_EQ(FakeConn::open, 1);  // the old one closed before the new one opened
  EXPECT_EQ(probe(s, t0 + milliseconds{18999}), 2);
  EXPECT_EQ(probe(s, t0 + milliseconds{20000}), 3);
}

TEST_F(KeptSessionTest, ASessionNoLongerReusableIsReplacedByTheNextProbe) {
  KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
  auto first = s.acquire(t0, std::ref(connect_));
  ASSERT_TRUE(first);
  first.value()->broken = true;  // the probe on it failed mid-query, or the server closed it
  s.probeEnded();
  EXPECT_EQ(FakeConn::open, 0);  // closed as that probe ended, not held until the next one
  EXPECT_EQ(probe(s, t0 + milliseconds{1000}), 2);
  EXPECT_EQ(FakeConn::open, 1);
}

// A session the next probe would find past its lifetime is closed as this probe ends, not held idle until
// then; with an interval as long as the lifetime or longer, that is every session. The next probe is due an
// interval after this one started, however long this one took.
TEST_F(KeptSessionTest, ASessionTheNextProbeWouldFindExpiredIsClosedAsThisOneEnds) {
  {
    KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
    ASSERT_TRUE(s.acquire(t0, std::ref(connect_)));
    s.probeEnded();
    EXPECT_EQ(FakeConn::open, 1);
    ASSERT_TRUE(s.acquire(t0 + milliseconds{8999}, std::ref(connect_)));
    s.probeEnded();  // however late it ends: the next probe, at 9.999 s, still finds it within its lifetime
    EXPECT_EQ(FakeConn::open, 1);
    ASSERT_TRUE(s.acquire(t0 + milliseconds{9000}, std::ref(connect_)));
    s.probeEnded();  // the next probe, at 10 s, would find it expired
    EXPECT_EQ(FakeConn::open, 0);
    EXPECT_EQ(probe(s, t0 + milliseconds{10000}), 2);
  }
  KeptSession<FakeConn> hourly(milliseconds{10000}, milliseconds{3600000});
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(probe(hourly, t0 + std::chrono::hours{i}), 2 + i);
    EXPECT_EQ(FakeConn::open, 0);
  }
}

// session_lifetime = "0s": a new session for every probe, and none left open between probes.
TEST_F(KeptSessionTest, ALifetimeOfZeroOpensASessionPerProbeAndHoldsNoneBetween) {
  KeptSession<FakeConn> s(milliseconds{0}, kInterval);
  for (int i = 1; i <= 3; ++i) {
    auto c = s.acquire(t0 + milliseconds{1000} * i, std::ref(connect_));
    ASSERT_TRUE(c);
    EXPECT_EQ(c.value()->id, i);
    EXPECT_EQ(FakeConn::open, 1);
    s.probeEnded();
    EXPECT_EQ(FakeConn::open, 0);
  }
}

// A server that refuses: the next probe tries again at once, then attempts are spaced (reconnect_backoff.h)
// and a probe in between fails at once with the last error and when the next attempt comes.
TEST_F(KeptSessionTest, RefusedAttemptsAreSpacedAndTheWaitingProbeSaysWhy) {
  KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
  connect_.refuse = true;
  EXPECT_EQ(probe(s, t0), 0);
  EXPECT_EQ(last_error_, "Connection refused");
  EXPECT_EQ(probe(s, t0 + milliseconds{1}), 0);
  EXPECT_EQ(connect_.attempts, 2);
  EXPECT_EQ(probe(s, t0 + milliseconds{500}), 0);
  EXPECT_EQ(connect_.attempts, 2);  // not attempted
  EXPECT_NE(last_error_.find("Connection refused"), std::string::npos) << last_error_;
  EXPECT_NE(last_error_.find("next attempt in"), std::string::npos) << last_error_;

  connect_.refuse = false;
  EXPECT_EQ(probe(s, t0 + milliseconds{1001}), 3);
  EXPECT_EQ(probe(s, t0 + milliseconds{1002}), 3);
  EXPECT_EQ(FakeConn::open, 1);
}

// A success clears the backoff: after the session breaks, the next probe reconnects at once.
TEST_F(KeptSessionTest, AConnectionMadeClearsTheBackoff) {
  KeptSession<FakeConn> s(milliseconds{10000}, kInterval);
  connect_.refuse = true;
  probe(s, t0);
  probe(s, t0);
  connect_.refuse = false;
  auto c = s.acquire(t0 + milliseconds{1000}, std::ref(connect_));
  ASSERT_TRUE(c);
  c.value()->broken = true;
  s.probeEnded();
  EXPECT_EQ(probe(s, t0 + milliseconds{1001}), 4);
}

}  // namespace
}  // namespace hale::agent
