#pragma once

// The scenario drills' invariant checker, watching the databases from outside as the application and an
// auditor would while a fault plays out:
//   writer  every 20 ms, commits row N+1 (`writes`) on whichever database DNS names; a commit that
//           returned is acknowledged.
//   prober  every 50 ms, asks every database whether it takes a write (inserted into `probe`, rolled back).
// report() then says: the longest window in which two databases took writes (the rounds in a row where
// more than one did, plus one round), the acknowledged rows the surviving primary does not hold, and
// how long after the fault the writer's writes were acknowledged again (DNS at a writable primary).

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
  size_t probe_rounds = 0;
  size_t acknowledged = 0;
  std::vector<int64_t> missing;                 // acknowledged ids the survivor lacks
  int64_t newest_missing_before_fault_ms = 0;   // how long before the fault the newest of them was acknowledged
  int64_t oldest_missing_before_fault_ms = 0;   // ... and the oldest
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
  // After stop(): the invariants around a fault at `fault_ms` (wall clock). `survivor_rows`: the ids in
  // the surviving primary's `writes` table; `old_region` the primary before the fault.
  InvariantReport report(int64_t fault_ms, const std::string& survivor, const std::set<int64_t>& survivor_rows,
                         const std::string& old_region) const;

 private:
  struct Round {
    int64_t at_ms;
    std::vector<bool> writable;  // by database
  };
  struct Ack {
    int64_t id;
    int64_t at_ms;
    std::string region;
  };
  void probeLoop();
  void writeLoop();

  std::vector<WatchedDatabase> databases_;
  std::function<std::vector<std::string>()> dns_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Round> rounds_;
  std::vector<Ack> acks_;
  std::thread prober_;
  std::thread writer_;
};

}  // namespace hale::drill
