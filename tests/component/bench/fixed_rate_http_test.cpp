// The open-loop generator behind bench_agent_footprint's fixed-rate /healthz figure, against an in-process
// libmicrohttpd server: a stall is charged to every request that fell due during it (measured from the due
// time), which a closed-loop tool would charge to only as many requests as it had connections.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "fixed_rate_http.h"
#include "http_server.h"

namespace hale::bench {
namespace {

TEST(FixedRateHttp, AnsweredAtTheRateWithLatencyFromTheDueTime) {
  std::atomic<int> served{0};
  HttpServer server([&](std::string_view, std::string_view, std::string& body, const char*& type) -> unsigned {
    // One stall of 300 ms at the 500th request (half a second in, at 1 000 requests a second).
    if (served.fetch_add(1) == 500) std::this_thread::sleep_for(std::chrono::milliseconds{300});
    body = "ok\n";
    type = "text/plain";
    return 200;
  });
  ASSERT_TRUE(server.start("127.0.0.1", 0).ok());
  const FixedRateResult r =
      runFixedRate({.port = server.port(), .path = "/", .rate_per_s = 1000, .seconds = 2, .connections = 4});
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.answered, r.sent);
  EXPECT_EQ(r.sent, 2000u) << "every request of the schedule was sent";
  EXPECT_NEAR(r.achieved_per_s, 1000, 50);
  // The server's single thread held every connection for 300 ms: the ~300 requests due meanwhile waited,
  // so more than 10 % of all answers took over 100 ms; the stall's own request took about 300 ms.
  EXPECT_GE(r.p90_ms, 100.0) << "a closed loop would show only 4 slow requests out of 2000";
  EXPECT_GE(r.max_ms, 290.0);
  EXPECT_LT(r.p50_ms, 50.0);
  EXPECT_GE(r.sent_late, 250u);
}

TEST(FixedRateHttp, ANonSuccessAnswerIsAnError) {
  HttpServer server([](std::string_view, std::string_view, std::string& body, const char*& type) -> unsigned {
    body = "down\n";
    type = "text/plain";
    return 503;
  });
  ASSERT_TRUE(server.start("127.0.0.1", 0).ok());
  const FixedRateResult r =
      runFixedRate({.port = server.port(), .path = "/", .rate_per_s = 200, .seconds = 0.5, .connections = 2});
  EXPECT_EQ(r.answered, 0u);
  EXPECT_EQ(r.errors, r.sent);
  EXPECT_GT(r.sent, 90u);
}

TEST(FixedRateHttp, NoServerIsAClearError) {
  HttpServer server([](std::string_view, std::string_view, std::string&, const char*&) -> unsigned { return 200; });
  ASSERT_TRUE(server.start("127.0.0.1", 0).ok());
  const uint16_t port = server.port();
  server.stop();
  EXPECT_THROW(runFixedRate({.port = port, .rate_per_s = 10, .seconds = 0.1, .connections = 1}), std::runtime_error);
}

}  // namespace
}  // namespace hale::bench
