#pragma once

// De-duplication of heartbeats by (node, boot id, sequence). Pure.
//   same boot, higher seq          -> accept
//   same boot, same seq            -> duplicate (a copy, e.g. from a second path)
//   same boot, lower seq           -> out_of_order (late or replayed)
//   new boot, sent no earlier than the last accepted heartbeat (minus clock slack) -> accept (agent restarted)
//   new boot, sent earlier         -> out_of_order (a replay of an older life)

#include <cstdint>
#include <map>
#include <string>

namespace hale::aggregator {

enum class SequenceVerdict { accept, duplicate, out_of_order };

class SequenceGuard {
 public:
  // Clock disagreement tolerated between an agent's restarts (its boot ids), in milliseconds.
  explicit SequenceGuard(int64_t restart_slack_ms = 2000) : slack_ms_(restart_slack_ms) {}

  // Classifies, and on accept remembers, one heartbeat.
  SequenceVerdict check(const std::string& node, const std::string& boot_id, uint64_t seq, int64_t sent_ms);
  void forget(const std::string& node) { last_.erase(node); }

 private:
  struct Last {
    std::string boot_id;
    uint64_t seq = 0;
    int64_t sent_ms = 0;
  };
  int64_t slack_ms_;
  std::map<std::string, Last> last_;
};

}  // namespace hale::aggregator
