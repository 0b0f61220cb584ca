#include "rejected_senders.h"

#include <algorithm>

namespace hale::aggregator {

void RejectedSenders::note(std::string_view node, std::string_view region, std::string_view reason, int64_t now_ms) {
  for (Sender& s : senders_) {
    if (s.node == node && s.region == region && s.reason == reason) {
      ++s.count;
      s.last_ms = now_ms;
      return;
    }
  }
  Sender fresh{std::string(node), std::string(region), std::string(reason), 1, now_ms, now_ms};
  if (senders_.size() < kMaxSenders) {
    senders_.push_back(std::move(fresh));
    return;
  }
  auto oldest = std::min_element(senders_.begin(), senders_.end(),
                                 [](const Sender& a, const Sender& b) { return a.last_ms < b.last_ms; });
  *oldest = std::move(fresh);
}

nlohmann::json RejectedSenders::json(int64_t now_ms) const {
  std::vector<const Sender*> order;
  for (const Sender& s : senders_) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const Sender* a, const Sender* b) { return a->last_ms > b->last_ms; });
  nlohmann::json out = nlohmann::json::array();
  for (const Sender* s : order) {
    out.push_back({{"node", s->node},
                   {"region", s->region},
                   {"reason", s->reason},
                   {"frames", s->count},
                   {"first_heard_ms", now_ms - s->first_ms},
                   {"last_heard_ms", now_ms - s->last_ms}});
  }
  return out;
}

}  // namespace hale::aggregator
