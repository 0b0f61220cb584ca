#include "sequence_guard.h"

#include <algorithm>

namespace hale::aggregator {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kMsPerAllowedHeartbeat = 25;

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
                                     int64_t now_ms, bool authenticated) {
  const bool skewed = apart(sent_ms, now_ms, limits_.max_skew_ms);
  if (skewed && !authenticated) return SequenceVerdict::clock_skew;
  // From here on the send time is within the skew of our clock: no difference below can overflow.
  sent_ms = std::clamp(sent_ms, now_ms - limits_.max_skew_ms, now_ms + limits_.max_skew_ms);
  const SequenceVerdict ok = skewed ? SequenceVerdict::accept_skewed : SequenceVerdict::accept;
  auto it = last_.find(node);
  if (it == last_.end()) {
    last_.emplace(node, Last{Life{boot_id, seq, now_ms}, {}, std::min(sent_ms, now_ms), {}});
    return ok;
  }
  Last& l = it->second;
  auto allowance = [&](int64_t since_ms) {
    return limits_.max_seq_jump +
           (now_ms > since_ms ? static_cast<uint64_t>(now_ms - since_ms) / kMsPerAllowedHeartbeat : 0);
  };
  if (l.life.boot_id == boot_id) {
    if (seq == l.life.seq) return SequenceVerdict::duplicate;
    if (seq < l.life.seq) return SequenceVerdict::out_of_order;
    if (seq - l.life.seq > allowance(l.life.accepted_at_ms)) return SequenceVerdict::sequence_jump;
  } else {
    if (sent_ms < l.sent_ms - limits_.restart_slack_ms) return SequenceVerdict::out_of_order;
    const auto back =
        std::find_if(l.retired.begin(), l.retired.end(), [&](const Life& r) { return r.boot_id == boot_id; });
    if (back != l.retired.end()) {
      if (seq <= back->seq) return SequenceVerdict::out_of_order;
      if (seq - back->seq > allowance(back->accepted_at_ms)) return SequenceVerdict::sequence_jump;
    } else if (seq > allowance(l.life.accepted_at_ms)) {
      return SequenceVerdict::sequence_jump;  // a life never seen counts from 0
    }
    if (!restartAllowed(l, now_ms)) return SequenceVerdict::too_many_restarts;
    if (back != l.retired.end()) l.retired.erase(back);
    l.retired.push_back(std::move(l.life));
    if (l.retired.size() > kRetiredLives) l.retired.erase(l.retired.begin());
    l.life.boot_id = boot_id;
    l.restarts_ms.push_back(now_ms);
  }
  l.life.seq = seq;
  l.life.accepted_at_ms = now_ms;
  l.sent_ms = std::max(l.sent_ms, std::min(sent_ms, now_ms));
  return ok;
}

}  // namespace hale::aggregator
