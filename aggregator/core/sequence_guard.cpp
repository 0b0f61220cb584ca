#include "sequence_guard.h"

namespace hale::aggregator {

SequenceVerdict SequenceGuard::check(const std::string& node, const std::string& boot_id, uint64_t seq,
                                     int64_t sent_ms) {
  auto it = last_.find(node);
  if (it == last_.end()) {
    last_.emplace(node, Last{boot_id, seq, sent_ms});
    return SequenceVerdict::accept;
  }
  Last& l = it->second;
  if (l.boot_id == boot_id) {
    if (seq == l.seq) return SequenceVerdict::duplicate;
    if (seq < l.seq) return SequenceVerdict::out_of_order;
  } else if (sent_ms + slack_ms_ < l.sent_ms) {
    return SequenceVerdict::out_of_order;
  } else {
    l.boot_id = boot_id;  // the agent restarted
  }
  l.seq = seq;
  l.sent_ms = sent_ms;
  return SequenceVerdict::accept;
}

}  // namespace hale::aggregator
