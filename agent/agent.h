#pragma once

// hale-agent's runtime: wires the config into a health board, the check scheduler, the HTTP server, the
// heartbeat publisher and the status socket, and swaps them on reload. A reload either applies whole or
// is refused with the old configuration left running.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <zmq.hpp>

#include "agent_config.h"
#include "agent_counters.h"
#include "control_server.h"
#include "health_board.h"
#include "healthz_routes.h"
#include "heartbeat_publisher.h"
#include "http_server.h"
#include "primary_lease.h"
#include "scheduler.h"

namespace hale::agent {

class Agent {
 public:
  explicit Agent(const Clock& clock = SystemClock::instance());
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Result<void> start(AgentConfig config);
  // Applies `config`: binds new listeners first (a bind failure refuses the reload), then swaps the
  // checks, the board and, where their settings changed, the publisher, HTTP server and status socket.
  // Leases are not swapped: a change to [etcd], the journal or a [check.lease] is refused (restart).
  Result<void> reload(AgentConfig config);
  void stop();
  // Records a reload that was refused before reaching reload() (the new file did not load).
  void countRefusedReload() { counters_.reload_failures.fetch_add(1, std::memory_order_relaxed); }

  std::shared_ptr<const Snapshot> snapshot() const;
  uint16_t httpPort() const;
  const AgentCounters& counters() const { return counters_; }
  const std::string& bootId() const { return identity_.boot_id; }

 private:
  std::shared_ptr<HealthBoard> makeBoard(const AgentConfig& config);
  std::unique_ptr<control::ControlServer> makeControlServer(const AgentConfig& config, Result<void>& status);
  void registerCommands(control::ControlServer& server);
  nlohmann::json statusJson(bool detailed) const;
  void onCheckChange(const CheckView& check, heartbeat::CheckStatus before);
  Result<void> startLeases(const AgentConfig& config);
  DbView dbView(const std::string& check) const;
  void markFence(const std::string& database, const std::string& reason, bool split_brain);
  Result<nlohmann::json> unfence(const nlohmann::json& args, const std::string& by);
  // From etcd, at most once every kActiveCacheFor: the control socket's thread never waits on etcd more
  // than that, however many clients ask (etcd down is when unfence must still get through).
  Result<nlohmann::json> active() const;
  Result<nlohmann::json> readActive() const;
  static constexpr std::chrono::seconds kActiveCacheFor{2};
  // /healthz detail, read per request: a reload changes it without a new listener.
  std::shared_ptr<std::atomic<bool>> http_details_ = std::make_shared<std::atomic<bool>>(false);
  mutable std::mutex active_mu_;
  mutable std::optional<Result<nlohmann::json>> active_cache_;
  mutable SteadyTime active_at_{};
  nlohmann::json leasesJson() const;

  const Clock& clock_;
  SteadyTime started_;
  zmq::context_t zmq_{1};
  PublisherIdentity identity_;
  AgentCounters counters_;

  mutable std::mutex mu_;  // guards the members below against reload while readers look
  AgentConfig config_;
  std::shared_ptr<HealthBoard> board_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<HeartbeatPublisher> publisher_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<control::ControlServer> control_;
  std::map<std::string, FenceMark> fences_;  // by database; copied onto every new board

  // Fixed from start to stop (a reload may not change them).
  std::unique_ptr<FenceJournal> fence_journal_;
  std::shared_ptr<etcd::Client> etcd_;
  std::string etcd_cluster_;
  std::vector<std::unique_ptr<PrimaryLease>> leases_;
};

}  // namespace hale::agent
