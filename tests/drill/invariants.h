#pragma once

// The scenario drills' invariant checker, watching the databases from outside as the application and an
// auditor would while a fault plays out:
//   writer  every 20 ms, commits row N+1 (`writes`) on whichever database DNS names; a commit that
//           returned is acknowledged.
//   prober  four threads per database, each with its own session, staggered so that one of them asks
//           every 50 ms: does it take a write (inserted into `probe`, rolled back)? Each answer is ok,
//           refused (the server's own refusal, or nothing listening) or none, recorded as it arrives.
// A database counts as writable from an ok answer until a refusal: an answer that does not come (a
// time-out, a dropped session) keeps the last proven state, so a database that stops answering is never
// taken for read-only, and a slow probe can only make the check stricter. A server verified gone (the
// drill's fence saw every one of its processes end) counts as refused from then: killed, it first shows
// as dropped sessions (no answer), and a prober's next round, up to a few hundred ms later, is the first
// refusal; a promotion in between would count as two writable primaries. An ok sent before that instant
// and recorded after it (a prober running late) counts at that instant. report() then says: the
// longest time both databases counted as writable, the acknowledged rows the surviving primary does not
// hold (and of those acknowledged after the fault, how long before the old primary's last write the oldest
// was: a hung or cut-off primary goes on writing until it is stopped), the longest gap between two
// answers of one database's prober, and when the survivor took its first write.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "deployment.h"

namespace hale::drill {

struct WatchedDatabase {
  std::string region;
  std::string address;  // DNS's answer when the application should write to it
  std::function<std::unique_ptr<SqlSession>()> open;
};

struct InvariantReport {
  int64_t longest_two_writable_ms = 0;
  size_t probe_rounds = 0;                 // answers of the least sampled database
  int64_t longest_probe_gap_ms = 0;        // between two answers of one database's prober
  bool old_writable_before_fault = false;  // the prober saw the old primary take writes first
  bool survivor_writable_at_end = false;   // ... and the survivor take them last
  size_t acknowledged = 0;
  std::vector<int64_t> missing;                // acknowledged ids the survivor lacks
  size_t missing_after_fault = 0;              // of them, acknowledged at or after the fault
  int64_t newest_missing_before_fault_ms = 0;  // how long before the fault the newest of them was acknowledged
  int64_t oldest_missing_before_fault_ms = 0;  // ... and the oldest
  // Of those acknowledged after the fault by the old primary: how long before its last acknowledged write
  // the oldest was. Those acknowledged after the fault by any other database: how many (never excusable).
  int64_t oldest_missing_after_fault_before_end_ms = 0;
  size_t missing_after_fault_elsewhere = 0;
  std::optional<int64_t> writes_resumed_ms;     // fault to the first acknowledged write on the survivor after it
  std::optional<int64_t> last_write_on_old_ms;  // fault to the last acknowledged write on the old primary
  std::string summary() const;
};

class InvariantWatch {
 public:
  // `dns`: the addresses the application's name resolves to now.
  InvariantWatch(std::vector<WatchedDatabase> databases, std::function<std::vector<std::string>()> dns);
  ~InvariantWatch();
  InvariantWatch(const InvariantWatch&) = delete;
  InvariantWatch& operator=(const InvariantWatch&) = delete;

  void start();
  void stop();
  // Every process of `region`'s server was verified gone at `at_ms` (wall clock): nothing of it takes a
  // write from then.
  void gone(const std::string& region, int64_t at_ms);
  // After stop(): the invariants around a fault at `fault_ms` (wall clock). `survivor_rows`: the ids in
  // the surviving primary's `writes` table; `old_region` the primary before the fault.
  InvariantReport report(int64_t fault_ms, const std::string& survivor, const std::set<int64_t>& survivor_rows,
                         const std::string& old_region) const;

 private:
  struct Answer {
    int64_t at_ms;    // when it arrived
    int64_t sent_ms;  // when its probe was sent
    SqlSession::Answer answer;
  };
  struct Ack {
    int64_t id;
    int64_t at_ms;
    std::string region;
  };
  void probeLoop(size_t db, int k);
  void writeLoop();
  // The spans (Unix ms, [from, to)) in which a database counted as writable, from its answers in order of
  // arrival, up to `end_ms`.
  static std::vector<std::pair<int64_t, int64_t>> writableSpans(const std::vector<Answer>& answers, int64_t end_ms);

  std::vector<WatchedDatabase> databases_;
  std::function<std::vector<std::string>()> dns_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::vector<Answer>> answers_;  // by database
  std::vector<std::vector<int64_t>> gone_;    // by database: when it was verified gone
  std::vector<Ack> acks_;
  std::vector<std::thread> probers_;
  std::thread writer_;
};

}  // namespace hale::drill
