#include "health_board.h"

#include <algorithm>

#include "text.h"

namespace hale::agent {

std::chrono::milliseconds staleAfter(const CheckSettings& s) { return 2 * s.interval + s.timeout; }

heartbeat::CheckStatus effectiveStatus(const CheckView& c, SteadyTime now) {
  if (!c.has_run) return heartbeat::CheckStatus::unknown;
  if (now - c.last_run > staleAfter(c.settings)) return heartbeat::CheckStatus::fail;
  return c.state.status;
}

uint8_t fenceLevel(const Snapshot& s) {
  uint8_t level = 0;
  for (const FenceMark& f : s.fences) level = std::max<uint8_t>(level, f.split_brain ? 2 : 1);
  return level;
}

heartbeat::NodeStatus effectiveNodeStatus(const Snapshot& s, SteadyTime now) {
  if (!s.fences.empty()) return heartbeat::NodeStatus::unhealthy;
  std::vector<CheckSummary> summary;
  summary.reserve(s.checks.size());
  for (const CheckView& c : s.checks) summary.push_back({effectiveStatus(c, now), c.settings.critical});
  return nodeStatus(summary.data(), summary.size());
}

HealthBoard::HealthBoard(std::string node_id, std::string region, const std::vector<ConfiguredCheck>& checks) {
  auto s = std::make_shared<Snapshot>();
  s->node_id = std::move(node_id);
  s->region = std::move(region);
  for (const ConfiguredCheck& c : checks) {
    CheckView v;
    v.settings = c.settings;
    s->checks.push_back(std::move(v));
  }
  current_ = std::move(s);
}

void HealthBoard::record(size_t index, const CheckResult& result, std::chrono::microseconds latency, SteadyTime now,
                         bool timed_out) {
  ChangeFn notify;
  CheckView changed;
  heartbeat::CheckStatus before = heartbeat::CheckStatus::unknown;
  {
    std::lock_guard lock(mu_);
    if (index >= current_->checks.size()) return;
    // Copy-on-write: readers keep the snapshot they hold. A handful of checks make this cheap.
    auto next = std::make_shared<Snapshot>(*current_);
    CheckView& c = next->checks[index];
    before = c.state.status;
    c.state = applyOutcome(c.state, result.outcome, c.settings.thresholds);
    c.last_outcome = result.outcome;
    cleanText(result.message, heartbeat::kMaxMessageBytes, c.message);  // what the decoder accepts
    c.latency_us = static_cast<uint32_t>(std::min<int64_t>(latency.count(), UINT32_MAX));
    c.has_run = true;
    c.last_run = now;
    ++c.runs;
    ++c.outcomes[static_cast<size_t>(result.outcome)];
    if (timed_out) ++c.timeouts;
    if (result.role != DbRole::none) {
      // When the probe started: what it read may predate anything done while it ran.
      const SteadyTime asked = now - latency;
      if (result.role != c.role) c.role_since = asked;
      c.role = result.role;
      c.role_at = asked;
      c.position = result.position;
    }
    if (c.state.status != before && on_change_) {
      notify = on_change_;
      changed = c;
    }
    current_ = std::move(next);
  }
  if (notify) notify(changed, before);
}

std::shared_ptr<const Snapshot> HealthBoard::snapshot() const {
  std::lock_guard lock(mu_);
  return current_;
}

void HealthBoard::carryRoles(const Snapshot& previous) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Snapshot>(*current_);
  for (CheckView& c : next->checks) {
    for (const CheckView& old : previous.checks) {
      if (old.settings.name != c.settings.name || old.role == DbRole::none) continue;
      c.role = old.role;
      c.role_at = old.role_at;
      c.role_since = old.role_since;
      c.position = old.position;
    }
  }
  current_ = std::move(next);
}

void HealthBoard::setFences(std::vector<FenceMark> fences) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<Snapshot>(*current_);
  next->fences = std::move(fences);
  current_ = std::move(next);
}

void HealthBoard::setOnChange(ChangeFn fn) {
  std::lock_guard lock(mu_);
  on_change_ = std::move(fn);
}

}  // namespace hale::agent
