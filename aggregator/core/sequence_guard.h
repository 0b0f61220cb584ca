#pragma once

// Which heartbeats are believed, by (node, boot id, sequence) and send time. Pure: the caller passes our
// wall clock.
//   sent further than max_skew from our clock -> clock_skew (never remembered: it cannot lock a node out)
//   same boot, higher seq, but more ahead than the agent could have sent since the last accepted one (a
//                                     frame from a buggy or hostile sender that would lock the node out)
//                                  -> sequence_jump
//   same boot, higher seq          -> accept
//   same boot, same seq            -> duplicate (a copy, e.g. from a second path)
//   same boot, lower seq           -> out_of_order (late or replayed)
//   new boot, sent earlier than the last accepted heartbeat (minus restart slack) -> out_of_order (a replay
//                                     of an older life)
//   new boot, but max_restarts new boots already in the last minute -> too_many_restarts
//   new boot otherwise             -> accept (the agent restarted)

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hale::aggregator {

enum class SequenceVerdict { accept, duplicate, out_of_order, clock_skew, too_many_restarts, sequence_jump };

struct SequenceLimits {
  int64_t max_skew_ms = 30'000;      // distance between a frame's send time and our clock
  int64_t restart_slack_ms = 2'000;  // clock disagreement tolerated between an agent's boot ids
  int max_restarts_per_minute = 6;
  // An agent sends at most one heartbeat per 50 ms (a status change; ticks are slower): a sequence may run
  // ahead of the last accepted one by this much plus one per 10 ms of send time between them.
  uint64_t max_seq_jump = 1000;
};

class SequenceGuard {
 public:
  explicit SequenceGuard(SequenceLimits limits = {}) : limits_(limits) {}

  // Classifies, and on accept remembers, one heartbeat sent at `sent_ms` and received at `now_ms` (both Unix
  // milliseconds; any values are safe).
  SequenceVerdict check(const std::string& node, const std::string& boot_id, uint64_t seq, int64_t sent_ms,
                        int64_t now_ms);
  void forget(const std::string& node) { last_.erase(node); }

 private:
  struct Last {
    std::string boot_id;
    uint64_t seq = 0;
    int64_t sent_ms = 0;
    std::vector<int64_t> restarts_ms;  // when recent new boot ids were accepted (our clock), at most the limit
  };
  bool restartAllowed(Last& l, int64_t now_ms) const;

  SequenceLimits limits_;
  std::map<std::string, Last> last_;
};

}  // namespace hale::aggregator
