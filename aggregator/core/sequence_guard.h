#pragma once

// Which heartbeats are believed, by (node, boot id, sequence) and send time. Pure: the caller passes our
// wall clock (`now_ms`) and whether the frame is authenticated (CurveZMQ: only the node's own key could
// have sent it, in a session that cannot be replayed).
//
//   sent further than max_skew from our clock:
//     unauthenticated                 -> clock_skew (refused, never remembered: it cannot lock a node out)
//     authenticated                   -> judged by the rules below with its send time clamped to now ±
//                                        max_skew, and an accepted one is accept_skewed: the node's clock
//                                        is wrong, but it is alive, and a broken NTP must not look like a
//                                        dead region. (What is remembered as the node's latest send time is
//                                        never later than our clock, so a frame from tomorrow cannot make
//                                        the real agent's next life look like the past.)
//   same boot, same seq               -> duplicate (a copy, e.g. from a second path)
//   same boot, lower seq              -> out_of_order (late or replayed)
//   new boot, sent earlier than the last accepted heartbeat (minus restart slack) -> out_of_order (a replay
//                                        of an older life)
//   new boot, max_restarts new boots already in the last minute -> too_many_restarts
//   a seq further ahead than the agent could have sent since we last accepted one of that life
//   (max_seq_jump plus one per 25 ms of OUR clock; a life never seen counts from 0, a recent life that
//   comes back (the real agent after a forged frame) from where it was) -> sequence_jump; a recent life
//   coming back at or below where it was -> out_of_order
//   otherwise                         -> accept
//
// What this cannot stop: the holder of a node's key speaks for that node. Within the bounds above it can
// still push the node's sequence ahead of the real agent for a few heartbeats.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace hale::aggregator {

enum class SequenceVerdict {
  accept,
  accept_skewed,
  duplicate,
  out_of_order,
  clock_skew,
  too_many_restarts,
  sequence_jump,
};

inline bool accepted(SequenceVerdict v) { return v == SequenceVerdict::accept || v == SequenceVerdict::accept_skewed; }

struct SequenceLimits {
  int64_t max_skew_ms = 30'000;      // distance between a frame's send time and our clock
  int64_t restart_slack_ms = 2'000;  // clock disagreement tolerated between an agent's boot ids
  int max_restarts_per_minute = 6;
  // An agent sends at most one heartbeat per 50 ms (a status change; ticks are slower): the allowance is
  // twice that rate, by our clock, plus this much.
  uint64_t max_seq_jump = 16;
};

class SequenceGuard {
 public:
  explicit SequenceGuard(SequenceLimits limits = {}) : limits_(limits) {}

  // Classifies, and when accepted remembers, one heartbeat sent at `sent_ms` and received at `now_ms`
  // (both Unix milliseconds; any values are safe).
  SequenceVerdict check(const std::string& node, const std::string& boot_id, uint64_t seq, int64_t sent_ms,
                        int64_t now_ms, bool authenticated = false);
  void forget(const std::string& node) { last_.erase(node); }

 private:
  struct Life {
    std::string boot_id;
    uint64_t seq = 0;
    int64_t accepted_at_ms = 0;  // our clock
  };
  struct Last {
    Life life;                         // the current one
    std::vector<Life> retired;         // the few before it, newest last
    int64_t sent_ms = 0;               // the latest send time believed, never later than our clock then
    std::vector<int64_t> restarts_ms;  // when recent new boot ids were accepted (our clock), at most the limit
  };
  static constexpr size_t kRetiredLives = 4;
  bool restartAllowed(Last& l, int64_t now_ms) const;

  SequenceLimits limits_;
  // Hashed, not ordered: this is one of the lookups every heartbeat makes, and at 10 000 nodes an ordered
  // map's string comparisons were a sixth of ingest's time (bench/ingest.cpp).
  std::unordered_map<std::string, Last> last_;
};

}  // namespace hale::aggregator
