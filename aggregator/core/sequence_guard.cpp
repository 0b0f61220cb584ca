#include "sequence_guard.h"

#include <algorithm>

namespace hale::aggregator {
namespace {

constexpr int64_t kMinuteMs = 60'000;

// |a - b| > limit, without overflow for any int64 a (b is our clock, limit at most hours).
bool apart(int64_t a, int64_t b, int64_t limit) {
  if (a >= b) return static_cast<uint64_t>(a) - static_cast<uint64_t>(b) > static_cast<uint64_t>(limit);
  return static_cast<uint64_t>(b) - static_cast<uint64_t>(a) > static_cast<uint64_t>(limit);
}

}  // namespace

bool SequenceGuard::restartAllowed(Last& l, int64_t now_ms) const {
  std::erase_if(l.restarts_ms, [&](int64_t t) { return apart(t, now_ms, kMinuteMs - 1); });
  return static_cast<int>(l.restarts_ms.size()) < limits_.max_restarts_per_minute;
}

SequenceVerdict SequenceGuard::check(const std::string& node, const std::string& boot_id, uint64_t seq, int64_t sent_ms,
                                     int64_t now_ms) {
  if (apart(sent_ms, now_ms, limits_.max_skew_ms)) return SequenceVerdict::clock_skew;
  auto it = last_.find(node);
  if (it == last_.end()) {
    last_.emplace(node, Last{boot_id, seq, sent_ms, {}});
    return SequenceVerdict::accept;
  }
  Last& l = it->second;
  if (l.boot_id == boot_id) {
    if (seq == l.seq) return SequenceVerdict::duplicate;
    if (seq < l.seq) return SequenceVerdict::out_of_order;
    // Both send times are within the skew of now: the difference cannot overflow.
    const uint64_t elapsed_ms = sent_ms > l.sent_ms ? static_cast<uint64_t>(sent_ms - l.sent_ms) : 0;
    if (seq - l.seq > limits_.max_seq_jump + elapsed_ms / 10) return SequenceVerdict::sequence_jump;
  } else if (sent_ms < l.sent_ms - limits_.restart_slack_ms) {  // both within the skew of now: no overflow
    return SequenceVerdict::out_of_order;
  } else if (!restartAllowed(l, now_ms)) {
    return SequenceVerdict::too_many_restarts;
  } else {
    l.boot_id = boot_id;  // the agent restarted
    l.restarts_ms.push_back(now_ms);
  }
  l.seq = seq;
  l.sent_ms = sent_ms;
  return SequenceVerdict::accept;
}

}  // namespace hale::aggregator
