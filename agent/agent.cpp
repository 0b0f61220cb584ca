#include "agent.h"

#include <algorithm>

#include "control_protocol.h"
#include "hale/version.h"
#include "log.h"
#include "parent_dir.h"

namespace hale::agent {
namespace {

std::vector<std::string> aggregatorEndpoints(const PublisherTransport& t) {
  std::vector<std::string> out;
  out.reserve(t.aggregators.size());
  for (const AggregatorTarget& a : t.aggregators) out.push_back(a.endpoint);
  return out;
}

std::string describeChange(heartbeat::CheckStatus before, heartbeat::CheckStatus after) {
  // Sentinel-style event names: +check-fail when a check starts failing, -check-fail when it stops.
  if (after == heartbeat::CheckStatus::fail) return "+check-fail";
  if (before == heartbeat::CheckStatus::fail) return "-check-fail";
  if (after == heartbeat::CheckStatus::warn) return "+check-warn";
  if (before == heartbeat::CheckStatus::warn) return "-check-warn";
  return "+check-" + std::string(heartbeat::toString(after));
}

}  // namespace

Agent::Agent(const Clock& clock) : clock_(clock), started_(clock.steadyNow()) {
  identity_.boot_id = randomBootId();
  identity_.seq = std::make_shared<std::atomic<uint64_t>>(0);
}

Agent::~Agent() { stop(); }

std::shared_ptr<const Snapshot> Agent::snapshot() const {
  std::lock_guard lock(mu_);
  return board_->snapshot();
}

uint16_t Agent::httpPort() const {
  std::lock_guard lock(mu_);
  return http_ ? http_->port() : 0;
}

void Agent::onCheckChange(const CheckView& check, heartbeat::CheckStatus before) {
  logInfo(describeChange(before, check.state.status),
          check.settings.name + (check.message.empty() ? "" : ": " + check.message));
  std::lock_guard lock(mu_);
  if (publisher_) publisher_->notifyChange();
}

std::shared_ptr<HealthBoard> Agent::makeBoard(const AgentConfig& config) {
  auto board = std::make_shared<HealthBoard>(config.node_id, config.region, config.checks);
  board->setOnChange([this](const CheckView& c, heartbeat::CheckStatus before) { onCheckChange(c, before); });
  std::vector<FenceMark> marks;
  {
    std::lock_guard lock(mu_);
    for (const auto& [database, mark] : fences_) marks.push_back(mark);
  }
  board->setFences(std::move(marks));
  return board;
}

void Agent::markFence(const std::string& database, const std::string& reason, bool split_brain) {
  std::lock_guard lock(mu_);
  if (reason.empty()) {
    fences_.erase(database);
  } else {
    fences_[database] = FenceMark{database, reason, split_brain};
  }
  std::vector<FenceMark> marks;
  for (const auto& [name, mark] : fences_) marks.push_back(mark);
  if (board_) board_->setFences(std::move(marks));
  if (publisher_) publisher_->notifyChange();
}

DbView Agent::dbView(const std::string& check) const {
  const std::shared_ptr<const Snapshot> snap = snapshot();
  for (const CheckView& c : snap->checks) {
    if (c.settings.name != check) continue;
    return DbView{c.role, c.role_at, effectiveStatus(c, clock_.steadyNow()) == heartbeat::CheckStatus::fail,
                  c.role_since, c.position};
  }
  return {};
}

Result<void> Agent::startLeases(const AgentConfig& config) {
  if (!config.etcd) return {};
  auto options = etcd::withPassword(*config.etcd);
  if (!options) return options.error();
  etcd_ = std::make_shared<etcd::Client>(options.value());
  etcd_cluster_ = config.etcd->cluster;
  const bool any = std::any_of(config.checks.begin(), config.checks.end(),
                               [](const ConfiguredCheck& c) { return c.lease.has_value(); });
  if (!any) return {};
  if (auto dir = ensureParentDirectory(config.journal, "journal"); !dir) return dir.error();
  auto journal = FenceJournal::open(config.journal);
  if (!journal) return journal.error();
  fence_journal_ = std::move(journal.value());
  for (const ConfiguredCheck& c : config.checks) {
    if (!c.lease) continue;
    std::unique_ptr<Fencer> fencer = c.lease->fence_command.empty()
                                         ? c.check->makeFencer()
                                         : makeCommandFencer(c.lease->fence_command, c.lease->unfence_command);
    leases_.push_back(std::make_unique<PrimaryLease>(
        *c.lease, std::move(fencer), etcd_, etcd_cluster_,
        PrimaryLease::Identity{config.node_id, config.region, identity_.boot_id},
        [this, name = c.settings.name] { return dbView(name); },
        [this](const std::string& db, const std::string& reason, bool split) { markFence(db, reason, split); },
        *fence_journal_, counters_, clock_));
  }
  return {};
}

std::unique_ptr<control::ControlServer> Agent::makeControlServer(const AgentConfig& config, Result<void>& status) {
  auto server = std::make_unique<control::ControlServer>();
  registerCommands(*server);
  control::ServerOptions options;
  options.path = config.control_socket;
  options.group = config.control_group;
  options.admin_group = config.admin_group;
  status = server->start(options);
  return server;
}

Result<void> Agent::start(AgentConfig config) {
  auto board = makeBoard(config);
  http_details_->store(config.http_details);
  auto http =
      std::make_unique<HttpServer>(healthzRoutes([this] { return snapshot(); }, counters_, clock_, http_details_));
  {
    std::lock_guard lock(mu_);
    board_ = board;  // readers need a board before any server can call them
  }
  if (auto r = http->start(config.http_listen, config.http_port); !r) return r;
  Result<void> control_status;
  auto control = makeControlServer(config, control_status);
  if (!control_status) return control_status;
  auto publisher = std::make_unique<HeartbeatPublisher>(
      zmq_, config.transport, config.heartbeat_interval, identity_, [this] { return snapshot(); }, counters_, clock_);
  if (auto r = publisher->start(); !r) return r;
  auto scheduler = std::make_unique<Scheduler>(config.checks, board, clock_);
  if (auto r = startLeases(config); !r) return r;
  if (config.insecure) {
    logWarn("+heartbeats-insecure",
            "insecure = true: heartbeats go out plaintext and unauthenticated (give this "
            "agent a CURVE key: halectl keygen, [curve] and [[aggregator]] public_key)");
  }
  logInfo("+agent-started", "node " + config.node_id + " region " + config.region + ", " +
                                std::to_string(config.checks.size()) + " checks, http port " +
                                std::to_string(http->port()) + ", boot " + identity_.boot_id);
  {
    std::lock_guard lock(mu_);
    config_ = std::move(config);
    http_ = std::move(http);
    control_ = std::move(control);
    publisher_ = std::move(publisher);
    scheduler_ = std::move(scheduler);
    scheduler_->start();
  }
  for (auto& lease : leases_) lease->start();
  return {};
}

Result<void> Agent::reload(AgentConfig config) {
  AgentConfig old;
  {
    std::lock_guard lock(mu_);
    old = config_;
  }
  // Everything that can fail happens before anything running is touched.
  if (config.leaseSignature() != old.leaseSignature()) {
    return makeError("config", "[etcd], journal and [check.lease] cannot change on reload: restart the agent");
  }
  if (config.control_group != old.control_group || config.admin_group != old.admin_group) {
    return makeError("config", "control_group and admin_group cannot change on reload: restart the agent");
  }
  std::unique_ptr<HttpServer> http;
  if (config.http_listen != old.http_listen || config.http_port != old.http_port) {
    http = std::make_unique<HttpServer>(healthzRoutes([this] { return snapshot(); }, counters_, clock_, http_details_));
    if (auto r = http->start(config.http_listen, config.http_port); !r) return r;
  }
  std::unique_ptr<control::ControlServer> control;
  if (config.control_socket != old.control_socket) {
    Result<void> status;
    control = makeControlServer(config, status);
    if (!status) return status;
  }
  std::unique_ptr<HeartbeatPublisher> publisher;
  if (config.transport != old.transport || config.heartbeat_interval != old.heartbeat_interval) {
    publisher = std::make_unique<HeartbeatPublisher>(
        zmq_, config.transport, config.heartbeat_interval, identity_, [this] { return snapshot(); }, counters_, clock_);
    if (auto r = publisher->prepare(); !r) return r;  // sends only once the running one stopped (below)
  }
  auto board = makeBoard(config);
  board->carryRoles(*snapshot());
  auto scheduler = std::make_unique<Scheduler>(config.checks, board, clock_);

  std::shared_ptr<HealthBoard> old_board;
  std::unique_ptr<Scheduler> old_scheduler;
  {
    std::lock_guard lock(mu_);
    old_board = std::exchange(board_, board);
    // Marks set since makeBoard copied them are not lost: copied again under the lock they change under.
    std::vector<FenceMark> marks;
    for (const auto& [database, mark] : fences_) marks.push_back(mark);
    board_->setFences(std::move(marks));
    old_scheduler = std::exchange(scheduler_, std::move(scheduler));
    if (http) std::swap(http_, http);
    if (control) std::swap(control_, control);
    if (publisher) std::swap(publisher_, publisher);
    http_details_->store(config.http_details);
    config_ = std::move(config);
    scheduler_->start();
  }
  // Retired pieces stop outside the lock: a hung probe of the old scheduler cannot hold up readers.
  old_board->setOnChange(nullptr);
  old_scheduler->stop();
  if (publisher) {
    // `publisher` is the retired one now: stopped first, so the two never send the same sequence at once.
    publisher.reset();
    std::lock_guard lock(mu_);
    publisher_->run();
  }
  for (auto& lease : leases_) {
    for (const ConfiguredCheck& c : config_.checks) {
      if (c.lease && c.lease->database == lease->settings().database && c.lease->fence_command.empty())
        lease->replaceFencer(c.check->makeFencer());
    }
  }
  counters_.reloads.fetch_add(1, std::memory_order_relaxed);
  logInfo("+config-reloaded", std::to_string(board->snapshot()->checks.size()) + " checks");
  return {};
}

void Agent::stop() {
  for (auto& lease : leases_) lease->stop();  // they read the board: stopped before it goes
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<HeartbeatPublisher> publisher;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<control::ControlServer> control;
  {
    std::lock_guard lock(mu_);
    scheduler = std::move(scheduler_);
    publisher = std::move(publisher_);
    http = std::move(http_);
    control = std::move(control_);
  }
  if (scheduler) scheduler->stop();
  if (control) control->stop();
  if (http) http->stop();
  if (publisher) publisher->stop();
}

nlohmann::json Agent::statusJson(bool detailed) const {
  std::shared_ptr<const Snapshot> snap;
  AgentConfig config;
  uint16_t http_port = 0;
  std::vector<LinkState> links;
  {
    std::lock_guard lock(mu_);
    snap = board_->snapshot();
    config = config_;
    http_port = http_ ? http_->port() : 0;
    if (publisher_) links = publisher_->links();
  }
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  nlohmann::json connections = nlohmann::json::array();
  for (const LinkState& l : links) {
    connections.push_back({{"endpoint", l.endpoint},
                           {"connected", l.connected},
                           {"for_ms", l.since_ms > 0 ? now_ms - l.since_ms : -1},
                           {"problem", std::string(describe(l.problem))}});
  }
  const SteadyTime now = clock_.steadyNow();
  nlohmann::json fenced = nlohmann::json::array();
  for (const FenceMark& f : snap->fences) {
    fenced.push_back({{"database", f.database}, {"reason", f.reason}, {"split_brain", f.split_brain}});
  }
  nlohmann::json checks = nlohmann::json::array();
  for (const CheckView& c : snap->checks) {
    nlohmann::json j{
        {"name", c.settings.name},
        {"type", c.settings.type},
        {"status", heartbeat::toString(effectiveStatus(c, now))},
        {"critical", c.settings.critical},
        {"age_ms", c.has_run ? std::chrono::duration_cast<std::chrono::milliseconds>(now - c.last_run).count() : -1},
        {"latency_us", c.latency_us},
        {"message", c.message}};
    if (detailed) {
      j["interval_ms"] = c.settings.interval.count();
      j["timeout_ms"] = c.settings.timeout.count();
      j["rise"] = c.settings.thresholds.rise;
      j["fall"] = c.settings.thresholds.fall;
      j["consecutive_pass"] = c.state.consecutive_pass;
      j["consecutive_bad"] = c.state.consecutive_bad;
      j["runs"] = c.runs;
      j["timeouts"] = c.timeouts;
      j["outcomes"] = {
          {"pass", c.outcomes[0]}, {"warn", c.outcomes[1]}, {"fail", c.outcomes[2]}, {"error", c.outcomes[3]}};
    }
    checks.push_back(std::move(j));
  }
  return nlohmann::json{
      {"node", snap->node_id},
      {"region", snap->region},
      {"status", heartbeat::toString(effectiveNodeStatus(*snap, now))},
      {"version", kVersion},
      {"boot_id", identity_.boot_id},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(now - started_).count()},
      {"config", config.source},
      {"http", config.http_listen + ":" + std::to_string(http_port)},
      {"aggregators", aggregatorEndpoints(config.transport)},
      {"transport", config.insecure ? "plaintext (insecure)" : "curve"},
      {"heartbeat_interval_ms", config.heartbeat_interval.count()},
      {"heartbeats_sent", counters_.heartbeats_sent.load()},
      {"heartbeats_dropped", counters_.heartbeats_dropped.load()},
      {"connections", std::move(connections)},  // each aggregator's link (aggregator_link.h)
      {"checks", std::move(checks)},
      {"fenced", fenced},
      {"leases", leasesJson()},
  };
}

nlohmann::json Agent::leasesJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& lease : leases_) out.push_back(lease->status());
  return out;
}

Result<nlohmann::json> Agent::unfence(const nlohmann::json& args, const std::string& by) {
  if (leases_.empty()) return makeError("usage", "no check of this agent has a lease: nothing to unfence");
  const std::string database = args.is_object() ? args.value("database", "") : "";
  PrimaryLease* lease = nullptr;
  for (auto& l : leases_) {
    if (database.empty() ? leases_.size() == 1 : l->settings().database == database) lease = l.get();
  }
  if (lease == nullptr) {
    std::string known;
    for (auto& l : leases_) known += (known.empty() ? "" : ", ") + l->settings().database;
    return makeError("usage", database.empty() ? "several databases have leases, name one: " + known
                                               : "no lease for database \"" + database + "\" (known: " + known + ")");
  }
  auto r = lease->operatorUnfence(by);
  if (!r) return makeError("unfence", r.error().message);
  return nlohmann::json{{"database", lease->settings().database},
                        {"unfenced", r.value()},
                        {"note",
                         "fencing for want of the lease is suspended until the lease is held again, another node "
                         "holds it, or etcd has answered for ttl - margin without it (a split brain is still fenced)"}};
}

Result<nlohmann::json> Agent::active() const {
  std::lock_guard lock(active_mu_);
  const SteadyTime now = clock_.steadyNow();
  if (!active_cache_ || now - active_at_ >= kActiveCacheFor) {
    active_cache_ = readActive();
    active_at_ = clock_.steadyNow();  // after the read: a slow etcd answer is not asked again at once
  }
  return *active_cache_;
}

Result<nlohmann::json> Agent::readActive() const {
  if (!etcd_) return makeError("unavailable", "this agent has no [etcd] table, so it does not know the active primary");
  const std::string base = "/hale/" + etcd_cluster_ + "/";
  auto read = etcd_->txn({}, {etcd::get(base + "state"), etcd::get(base + "leader"), etcd::get(base + "db/", true)});
  if (!read || read.value().ranges.size() != 3) {
    return makeError("unavailable", "etcd: " + (read ? std::string("unexpected answer") : read.error().message));
  }
  const auto& ranges = read.value().ranges;
  nlohmann::json out{{"cluster", etcd_cluster_}, {"active_region", nullptr}, {"leader", nullptr}, {"epoch", 0}};
  if (!ranges[0].empty()) {
    const auto state = nlohmann::json::parse(ranges[0][0].value, nullptr, false);
    if (state.is_object() && state.contains("active_region")) out["active_region"] = state["active_region"];
  }
  if (!ranges[1].empty()) {
    out["leader"] = ranges[1][0].value;
    out["epoch"] = ranges[1][0].create_revision;
  }
  nlohmann::json databases = nlohmann::json::object();
  for (const etcd::KeyValue& kv : ranges[2]) {
    const std::string rest = kv.key.substr(std::min(kv.key.size(), (base + "db/").size()));
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string name = rest.substr(0, slash);
    const std::string what = rest.substr(slash + 1);
    nlohmann::json& db = databases[name];
    if (what == "primary") {
      if (auto p = dblease::decodePrimary(kv.value)) {
        db["primary"] = {{"region", p.value().region},     {"node", p.value().node}, {"epoch", p.value().epoch},
                         {"since_ms", p.value().since_ms}, {"by", p.value().by},     {"endpoint", p.value().endpoint}};
      } else {
        db["primary"] = {{"error", p.error().message}};
      }
    } else if (what == "lease") {
      if (auto l = dblease::decodeLease(kv.value)) {
        db["lease"] = {{"node", l.value().node}, {"region", l.value().region}, {"since_ms", l.value().since_ms}};
      } else {
        db["lease"] = {{"error", l.error().message}};
      }
    }
  }
  for (auto& [name, db] : databases.items()) {
    if (!db.contains("lease")) db["lease"] = nullptr;
    if (!db.contains("primary")) db["primary"] = nullptr;
  }
  out["databases"] = std::move(databases);
  return out;
}

void Agent::registerCommands(control::ControlServer& server) {
  server.addCommand("status", "node status and a line per check",
                    [this](const nlohmann::json&) -> Result<nlohmann::json> { return statusJson(false); });
  server.addCommand("checks", "every check in detail (thresholds, counters, outcomes)",
                    [this](const nlohmann::json&) -> Result<nlohmann::json> { return statusJson(true)["checks"]; });
  server.addAdminCommand(
      "unfence", "lift this node's fence now; automatic fencing waits for the lease (args: database)",
      [this](const nlohmann::json& args, const control::Caller& caller) { return unfence(args, caller.describe()); });
  server.addCommand("active", "the active region, the aggregators' epoch and each database's primary, from etcd",
                    [this](const nlohmann::json&) { return active(); });
  server.addCommand("version", "agent version and protocol versions",
                    [](const nlohmann::json&) -> Result<nlohmann::json> {
                      return nlohmann::json{{"version", kVersion},
                                            {"control_protocol", control::kProtocolVersion},
                                            {"heartbeat_schema", heartbeat::kSchemaMajor}};
                    });
}

}  // namespace hale::agent
