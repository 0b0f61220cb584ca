#include "engine.h"

#include <charconv>

#include "etcd_config.h"
#include "heartbeat_codec.h"
#include "log.h"
#include "parent_dir.h"
#include "plan_runner.h"
#include "thread_name.h"

namespace hale::aggregator {
namespace {

// ZeroMQ's queue for heartbeats that arrive faster than ingest reads them. Beyond it they are dropped by
// ZeroMQ, which is right: a fresher heartbeat from the same node follows within a second.
constexpr int kReceiveHighWaterMark = 1000;  // per connection: minutes of one agent's heartbeats
// ZeroMQ closes a connection whose frame is over this (counted as a disconnect); below it, a frame over the
// decoder's limit reaches the decoder and is counted as frame_too_large. The margin covers CURVE's framing.
constexpr int64_t kMaxWireFrameBytes = static_cast<int64_t>(heartbeat::kMaxFrameBytes) + 1024;
// A node's key-and-name mismatch is logged at most this often per node.

constexpr const char* kInsecureWarning =
    "insecure = true: heartbeats are plaintext and unauthenticated; anyone who reaches the listen endpoints can "
    "speak for any node (give every agent a CURVE key: halectl keygen, [curve] and [agent_keys])";

std::string stepLabel(const PlanRecord& p) { return p.kind + " " + p.from + " -> " + p.to; }

}  // namespace

Engine::Engine(AggregatorConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      observer_(config_.observer, clock.steadyNow()),
      sequences_({.max_skew_ms = config_.ingest.max_clock_skew.count(),
                  .max_restarts_per_minute = config_.ingest.max_restarts_per_minute}) {
  const SteadyTime now = clock_.steadyNow();
  for (const RegionSetup& r : config_.regions) {
    for (const std::string& n : r.nodes) observer_.addNode(n, r.name, now);
  }
  state_.active_region = config_.policy.home_region;
}

Engine::~Engine() { stop(); }

Result<void> Engine::start() {
  if (auto dir = ensureParentDirectory(config_.journal, "journal"); !dir) return dir.error();
  auto journal = Journal::open(config_.journal);
  if (!journal) return journal.error();
  journal_ = std::move(journal).value();

  // Restore what outlives a process: the active region, pause, the last failover, plans in flight. A key
  // that cannot be read stops the start: going on would forget a pause or the last failover's time.
  std::string unreadable;
  auto meta = [&](const char* key) {
    auto v = journal_->meta(key);
    if (!v && unreadable.empty()) unreadable = std::string(key) + ": " + v.error().message;
    return v && v.value() ? *v.value() : std::string();
  };
  if (const std::string active = meta("active_region"); observer_.region(active) != nullptr)
    state_.active_region = active;
  state_.paused = meta("paused") == "1";
  if (const std::string last = meta("last_failover_ms"); !last.empty()) {
    int64_t ms = 0;
    const auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), ms);
    if (ec != std::errc{} || end != last.data() + last.size()) {
      unreadable = "last_failover_ms: \"" + last + "\" is not a time in milliseconds";
    } else {
      state_.last_failover = fromUnixMillis(ms);
    }
  }
  state_.blocked_by_failed_plan = meta("blocked_by_failed_plan");
  if (!unreadable.empty()) {
    return makeError("journal", "cannot read the state kept in " + config_.journal + " (" + unreadable +
                                    "); not started, since a pause or the last failover would be forgotten");
  }
  auto done = journal_->doneSteps();
  if (!done) return done.error();
  for (const DoneStep& d : done.value()) placeResource(d.action, {d.region, d.action, d.plan_id, d.idx, d.finished_ms});
  auto running = journal_->plansInState("running");
  if (!running) return running.error();
  for (const PlanRecord& p : running.value()) {
    if (config_.coordination.mode == CoordinationConfig::Mode::etcd) {
      // The shared plan in etcd is the truth: whoever leads resumes it, maybe not us.
      logWarn("+plan-resume", "plan " + std::to_string(p.id) + " (" + stepLabel(p) +
                                  ") was running at the last stop; the leader resumes it from the shared plan");
      continue;
    }
    plan_queue_.push_front(p.id);  // oldest first (the list is newest first)
    state_.plan_running = true;
    logWarn("+plan-resume", "plan " + std::to_string(p.id) + " (" + stepLabel(p) + ") was running at the last stop");
  }
  auto waiting = journal_->plansInState("awaiting_approval");
  if (!waiting) return waiting.error();  // a plan awaiting approval would be forgotten
  if (!waiting.value().empty()) state_.awaiting_approval = std::to_string(waiting.value().front().id);

  if (config_.coordination.mode == CoordinationConfig::Mode::etcd) {
    auto store = etcd::withPassword(
        {config_.coordination.store, config_.coordination.cluster, config_.coordination.password_file});
    if (!store) return store.error();
    config_.coordination.store = store.value();
    coordinator_ = std::make_unique<Coordinator>(config_.coordination, clock_, [this] { return standing(); });
  }

  try {
    sub_ = std::make_unique<zmq::socket_t>(zmq_, zmq::socket_type::sub);
    sub_->set(zmq::sockopt::subscribe, "");
    sub_->set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
    sub_->set(zmq::sockopt::maxmsgsize, kMaxWireFrameBytes);
    sub_->set(zmq::sockopt::linger, 0);
    sub_->set(zmq::sockopt::handshake_ivl, 5000);  // an unauthenticated connection is held 5 s at most
    gate_ = std::make_unique<CurveGate>(zmq_, config_.ingest, ingest_);
    if (auto r = gate_->start(*sub_); !r) return r;  // before bind: no connection without the gate
    for (const std::string& e : config_.listen) sub_->bind(e);
  } catch (const zmq::error_t& e) {
    return makeError("bind", std::string("heartbeat socket: ") + e.what());
  }
  control_ = std::make_unique<control::ControlServer>();
  registerCommands();
  control::ServerOptions options;
  options.path = config_.control_socket;
  options.group = config_.control_group;
  options.admin_group = config_.admin_group;
  if (auto r = control_->start(options); !r) return r;
  if (config_.http_port >= 0) {
    http_ = std::make_unique<HttpServer>([this](std::string_view method, std::string_view url, std::string& body,
                                                const char*& content_type) -> unsigned {
      if (method != "GET" && method != "HEAD") return HttpServer::methodNotAllowed(body, content_type);
      if (url != "/metrics") {
        body = "not found\n";
        content_type = kContentText;
        return 404;
      }
      body = metrics();
      content_type = kContentPrometheus;
      return 200;
    });
    if (auto r = http_->start(config_.http_listen, static_cast<uint16_t>(config_.http_port)); !r) return r;
  }
  if (auto r = journal_->event({0, nowMs(), "+aggregator-started", state_.active_region,
                                "active region " + state_.active_region + (state_.paused ? ", paused" : "")});
      !r) {
    return r.error();
  }
  logInfo("+aggregator-started", "active region " + state_.active_region + ", " +
                                     std::to_string(observer_.nodes().size()) + " known nodes, journal " +
                                     config_.journal);
  if (config_.ingest.insecure) logWarn("+ingest-insecure", kInsecureWarning);
  if (coordinator_) {
    logInfo("+coordination", "etcd: observer " + config_.coordination.name + " of " +
                                 std::to_string(config_.coordination.quorum.observers.size()) + ", quorum " +
                                 std::to_string(config_.coordination.quorum.needed()) + ", cluster " +
                                 config_.coordination.cluster);
    coordinator_->start();
  } else {
    logWarn("+coordination-none",
            "this aggregator decides alone (coordination = \"none\"): a network path cut between it and a healthy "
            "region looks like that region dying and can fail it over; use coordination = \"etcd\" with several "
            "observers to require a quorum");
  }
  alerter_ = std::make_unique<Alerter>(config_.alerts, config_.actions, *journal_, clock_, alertObserver(),
                                       config_.coordination.cluster);
  // Listed as paged once an action has sent it, not when queued: a leader stopped or killed with alerts
  // still queued (or a pager refusing them) must not have the followers settle them. The observer's own
  // events concern nobody else.
  alerter_->onSent([this](const Event& e, const std::string& key) {
    if (!e.subject.empty()) notePaged(key);
  });
  alerter_->start();
  ingest_thread_ = std::thread([this] { ingestLoop(); });
  tick_thread_ = std::thread([this] { tickLoop(); });
  executor_thread_ = std::thread([this] { executorLoop(); });
  return {};
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cancel_ = true;  // a running plan stops between attempts and resumes at the next start
  plan_cv_.notify_all();
  for (std::thread* t : {&ingest_thread_, &tick_thread_, &executor_thread_}) {
    if (t->joinable()) t->join();
  }
  if (alerter_) alerter_->stop();
  if (coordinator_) coordinator_->stop();  // revokes our lease: verdicts and leadership go now
  if (control_) control_->stop();
  if (http_) http_->stop();
  // Last, with nothing left that leads, votes or writes: it may wait for another process's lock.
  writeUnjournaledAtStop();
  sub_.reset();  // first: no connection outlives the ZAP handler
  if (gate_) gate_->stop();
}

void Engine::writeUnjournaledAtStop() {
  // The tick thread has ended: one last try, waiting for another process's lock a while (kStopWriteWait);
  // what the journal still does not take goes with this process, and is said so (it is in the log).
  if (unjournaled_.empty()) return;
  const size_t waiting = unjournaled_.size();
  const uint64_t dropped = unjournaled_dropped_;
  const Result<void> r = appendUnjournaled(nowMs(), kStopWriteWait);
  if (r) {
    logInfo("+events-journaled-at-stop",
            std::to_string(waiting) + " events that waited are written" +
                (dropped > 0 ? ", with the count of " + std::to_string(dropped) + " not kept" : ""));
  } else {
    logError("-events-discarded", std::to_string(waiting + dropped) +
                                      " events the journal did not take are discarded at stop, the first " +
                                      unjournaled_.front().name + " " + unjournaled_.front().subject + ": " +
                                      r.error().message + "; they are in the log");
  }
  unjournaled_.clear();
  unjournaled_dropped_ = 0;
  counters_.journal_events_waiting.store(0);
}

void Engine::handleFrame(std::string_view frame, std::string_view speaker, heartbeat::Heartbeat& hb,
                         heartbeat::Decoder& decoder) {
  const heartbeat::DecodeResult r = decoder.decode(frame, hb);
  if (!r.ok()) {
    ingest_.count(r.error);
    logDebug("-heartbeat-rejected",
             std::string(heartbeat::decodeErrorName(r.error)) + (r.key.empty() ? "" : " " + std::string(r.key)));
    return;
  }
  if (!config_.ingest.insecure && hb.node_id != speaker) {
    logRefusal(refuseSender(IngestReject::impersonation, hb.node_id, hb.region, speaker));
    return;
  }
  const SteadyTime now = clock_.steadyNow();
  std::unique_lock lock(mu_);
  // One lookup for both questions (known, and in which region): ingest is bound by these lookups at
  // 10 000 nodes (bench/ingest.cpp).
  const TrackedNode* tracked = observer_.node(hb.node_id);
  const bool known = tracked != nullptr;
  if (!known) {
    const auto region = std::find_if(config_.regions.begin(), config_.regions.end(),
                                     [&](const RegionSetup& s) { return s.name == hb.region; });
    if (region == config_.regions.end() || !region->accept_any_node) {
      const RefusalLog said = refuseSender(IngestReject::unknown_node, hb.node_id, hb.region, "");
      lock.unlock();  // a slow log never holds up the state
      logRefusal(said);
      return;
    }
  } else if (tracked->region != hb.region) {
    const RefusalLog said = refuseSender(IngestReject::wrong_region, hb.node_id, hb.region, tracked->region);
    lock.unlock();
    logRefusal(said);
    return;
  }
  const SequenceVerdict verdict =
      sequences_.check(hb.node_id, hb.boot_id, hb.seq, hb.sent_unix_ms, nowMs(), !config_.ingest.insecure);
  switch (verdict) {
    case SequenceVerdict::duplicate: ingest_.count(IngestReject::duplicate); return;
    case SequenceVerdict::out_of_order: ingest_.count(IngestReject::out_of_order); return;
    case SequenceVerdict::clock_skew: ingest_.count(IngestReject::clock_skew); return;
    case SequenceVerdict::too_many_restarts: ingest_.count(IngestReject::too_many_restarts); return;
    case SequenceVerdict::sequence_jump: ingest_.count(IngestReject::sequence_jump); return;
    case SequenceVerdict::accept_skewed: noteSkewed(hb, now); break;
    case SequenceVerdict::accept: break;
  }
  if (!known) {  // only a frame the guard believed may add a node
    observer_.addNode(hb.node_id, hb.region, now, /*listed=*/false);
    pending_events_.push_back({"+node-added", hb.node_id, "first heartbeat, region " + hb.region});
  }
  ingest_.accepted.fetch_add(1, std::memory_order_relaxed);
  observer_.heartbeat(hb.node_id, hb.status, now, pending_events_, hb.fence, hb.checks);
}

Engine::RefusalLog Engine::refuseSender(IngestReject reason, std::string_view node, std::string_view region,
                                        std::string_view other) {
  ingest_.count(reason);
  RefusalLog out;
  std::lock_guard lock(senders_mu_);
  rejected_senders_.note(node, region, kIngestRejectNames[static_cast<size_t>(reason)], nowMs());
  // Impersonation has its own budget, by the key's node: a flood of made-up names cannot hide it.
  const bool impersonation = reason == IngestReject::impersonation;
  LogLimiter& limiter = impersonation ? impersonation_log_ : sender_log_;
  uint64_t held_back = 0;
  const bool allowed =
      limiter.allow(impersonation ? other : node, clock_.steadyNow(), held_back);  // no allocation once known
  if (held_back > 0) {
    out.summary = std::to_string(held_back) +
                  " more refused frames were not logged since the last such line (halectl nodes --unknown lists "
                  "their senders)";
  }
  if (!allowed) return out;
  switch (reason) {
    case IngestReject::impersonation:
      out.event = "-heartbeat-impersonation";
      out.text =
          "the key of node " + std::string(other) + " sent a heartbeat naming node " + std::string(node) + ": refused";
      break;
    case IngestReject::wrong_region:
      out.event = "-heartbeat-wrong-region";
      out.text = "node " + std::string(node) + " says it is in region " + std::string(region) + " but is listed in " +
                 std::string(other) + ": refused";
      break;
    default:
      out.event = "-heartbeat-unknown-node";
      out.text = "node \"" + std::string(node) + "\" (region " + std::string(region) +
                 ") is in no region's nodes: refused (a mistyped node name? halectl nodes --unknown lists such "
                 "senders)";
      break;
  }
  return out;
}

void Engine::logRefusal(const RefusalLog& r) {
  if (!r.summary.empty()) logWarn("-heartbeat-refusals-suppressed", r.summary);
  if (r.event != nullptr) logWarn(r.event, r.text);
}

nlohmann::json Engine::unknownSenders() const {
  std::lock_guard lock(senders_mu_);
  return rejected_senders_.json(nowMs());
}

void Engine::noteSkewed(const heartbeat::Heartbeat& hb, SteadyTime now) {
  // Counted (the frame is still believed: authenticated, and its node alive) and said once a minute per node.
  ingest_.skewed.fetch_add(1, std::memory_order_relaxed);
  uint64_t held_back = 0;
  const bool allowed = skew_log_.allow(hb.node_id, now, held_back);
  if (held_back > 0) {
    logWarn("-node-clock-skew",
            std::to_string(held_back) + " more lines about clock skew in the last minute held back");
  }
  if (allowed) {
    logWarn("-node-clock-skew", hb.node_id + ": sent at " + std::to_string(hb.sent_unix_ms) + ", " +
                                    std::to_string((nowMs() - hb.sent_unix_ms) / 1000) +
                                    " s from our clock (over max_clock_skew): check NTP on the node and here");
  }
}

void Engine::ingestLoop() {
  nameThisThread("ingest");
  heartbeat::Decoder decoder;
  heartbeat::Heartbeat hb;
  zmq::message_t msg;
  zmq::pollitem_t item{sub_->handle(), 0, ZMQ_POLLIN, 0};
  while (!cancel_.load()) {
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds{100}) <= 0) continue;
      // Drain what is queued, then look at the stop flag again.
      for (int i = 0; i < 1024 && sub_->recv(msg, zmq::recv_flags::dontwait); ++i) {
        handleFrame(std::string_view(static_cast<const char*>(msg.data()), msg.size()), CurveGate::speaker(msg), hb,
                    decoder);
      }
    } catch (const zmq::error_t& e) {
      logError("-ingest-failed", e.what());
    }
  }
}

namespace {
// Events logged at debug once on disk (every node's start-up and recovery); what the journal lacks is at info.
bool quiet(const Event& e) { return e.name == "+node-healthy" || e.name == "+node-added"; }
}  // namespace

void Engine::publish(const std::vector<Event>& events) {
  if (events.empty() && unjournaled_.empty()) return;
  const int64_t at_ms = nowMs();
  for (const Event& e : events) {
    if (quiet(e)) {
      // logged below, once it is known whether the journal took it
    } else if (e.name == "+split-brain") {
      logError(e.name, e.subject + ": " + e.detail);
    } else {
      logInfo(e.name, e.subject.empty() ? e.detail : e.subject + ": " + e.detail);
    }
    if (unjournaled_.size() < kMaxUnjournaled) {
      // The epoch as seen now: one that waits keeps it, whoever leads by the time it is written.
      unjournaled_.push_back({0, at_ms, e.name, e.subject, e.detail, 0, -1, journal_->epoch()});
    } else {
      ++unjournaled_dropped_;
      counters_.journal_errors.fetch_add(1);
      counters_.journal_events_dropped.fetch_add(1);
    }
  }
  writeUnjournaled(at_ms);
  const bool waiting = !unjournaled_.empty();
  for (const Event& e : events) {
    if (quiet(e)) {
      (waiting ? logInfo : logDebug)(e.name, e.subject + ": " + e.detail + (waiting ? " (not journaled yet)" : ""));
    }
  }
  counters_.journal_events_waiting.store(unjournaled_.size());
  // Without their count: the reason is the hold's, which is logged and journaled each time it changes.
  const std::string reason =
      unjournaled_.empty() ? ""
                           : "events wait to be written (" +
                                 (unjournaled_error_.empty() ? journal_->health().error : unjournaled_error_) + ")";
  if (reason != unjournaled_reason_) {
    std::lock_guard lock(mu_);
    unjournaled_reason_ = reason;
  }
}

namespace {

// Events a node reports in its own heartbeats, which every observer that hears the node sees alike (not a
// conclusion drawn from silence).
bool reportedByTheNode(const Event& e) {
  return e.name == "+split-brain" || e.name == "-split-brain" || e.name == "+node-fenced" || e.name == "-node-fenced";
}

// The leader's report in `v`, if it named a leader and the leader published one.
const ObserverReport* leaderReport(const CoordinationView& v) {
  if (v.leader.empty()) return nullptr;
  const auto r =
      std::find_if(v.reports.begin(), v.reports.end(), [&](const ObserverReport& o) { return o.observer == v.leader; });
  return r == v.reports.end() ? nullptr : &*r;
}

}  // namespace

std::string Engine::alertObserver() const {
  return config_.coordination.mode == CoordinationConfig::Mode::etcd ? config_.coordination.name : "";
}

std::string Engine::alertKeyOf(const Event& e) const {
  return alertKey(config_.coordination.cluster, alertObserver(), e);
}

void Engine::notePaged(const std::string& key) {
  std::lock_guard lock(paged_mu_);
  std::erase(known_paged_, key);
  known_paged_.push_back(key);
  if (known_paged_.size() > Coordinator::kMaxReportedPages) known_paged_.pop_front();
}

std::chrono::milliseconds Engine::keepWindow() const {
  // As long as a dead leader can keep its key and look alive, and the others take to evict it.
  const CoordinationConfig& c = config_.coordination;
  return c.lease_ttl + c.quorum.fresh_within + 2 * c.publish_interval +
         c.store.timeout * static_cast<int64_t>(std::max<size_t>(1, c.store.endpoints.size()));
}

void Engine::page(const std::vector<Event>& events, const std::optional<CoordinationView>& shared, SteadyTime now) {
  if (!alerter_) return;
  if (!shared) {  // deciding alone
    for (const Event& e : events) alerter_->notify(e);
    return;
  }
  if (events.empty() && unpaged_alerts_.empty() && distrusted_.empty()) return;  // most ticks
  // An end ("-split-brain") closes what was known paged under its key: the next onset is news again. While
  // the leader still lists it, its listing is the old episode's.
  const ObserverReport* leader = shared->reachable ? leaderReport(*shared) : nullptr;
  const auto listed = [&](const std::string& key) {
    return leader != nullptr && std::find(leader->paged.begin(), leader->paged.end(), key) != leader->paged.end();
  };
  const auto distrusted = [&](const std::string& key) {
    return std::find(distrusted_.begin(), distrusted_.end(), key) != distrusted_.end();
  };
  for (const Event& e : events) {
    if (e.name.empty() || e.name.front() != '-') continue;
    const std::string key = alertKeyOf(e);
    {
      std::lock_guard lock(paged_mu_);
      std::erase(known_paged_, key);
    }
    if (listed(key) && !distrusted(key)) {
      distrusted_.push_back(key);
      if (distrusted_.size() > kMaxUnpagedAlerts) distrusted_.pop_front();
    }
  }
  if (leader != nullptr && !distrusted_.empty())
    std::erase_if(distrusted_, [&](const std::string& k) { return !listed(k); });
  const auto alerts = [&](const Event& e) { return config_.alerts.alerts(e.name); };
  if (unpaged_alerts_.empty() && std::none_of(events.begin(), events.end(), alerts)) return;
  // Every observer sees the same nodes: only the leader pages. An observer that sees no live leader pages
  // too: the same page from each observer is better than none.
  const Paging p = paging(*shared, leader, now);
  if (p == Paging::yes && !unpaged_alerts_.empty()) {
    // What it left to the leader is paged once it pages: it took the lead, or the leader went stale or lost
    // its key (killed or stopped before it sent them all). Some the leader may have sent: the copies share
    // an alert key, for the pager to fold.
    const auto kept = std::count_if(unpaged_alerts_.begin(), unpaged_alerts_.end(),
                                    [](const UnpagedAlert& a) { return !a.deferred; });
    for (const UnpagedAlert& a : unpaged_alerts_) alerter_->notify(a.event);
    if (kept > 0) {
      logWarn("+alerts-repaged", std::to_string(kept) + " alerts left to " +
                                     (shared->leader.empty() ? std::string("a leader") : shared->leader) +
                                     ", which it may not have sent");
    }
    unpaged_alerts_.clear();
  } else if (p == Paging::no) {
    // A live leader: what it says it paged is settled. What a node reports of itself (a split brain, a fence)
    // that the leader has not listed within a detection's skew and two rounds after its report could, it
    // does not see (cut off from that node): paged here. What an observer concludes from silence is the
    // leader's view to page: this one's alone may be a cut path.
    const auto wait =
        config_.coordination.quorum.fresh_within + 2 * config_.coordination.publish_interval + kDetectionSkew;
    size_t unconfirmed = 0;
    std::erase_if(unpaged_alerts_, [&](UnpagedAlert& a) {
      a.deferred = false;
      const std::string key = alertKeyOf(a.event);
      if (listed(key) && !distrusted(key)) {
        notePaged(key);
        return true;
      }
      if (now - a.at <= wait || !reportedByTheNode(a.event)) return false;
      alerter_->notify(a.event);
      ++unconfirmed;
      return true;
    });
    if (unconfirmed > 0) {
      logWarn("+alerts-unconfirmed",
              std::to_string(unconfirmed) + " alerts " + shared->leader + " has not said it paged within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) +
                  " ms (it may not see them) are paged here");
    }
  }
  const auto window = keepWindow();
  std::erase_if(unpaged_alerts_, [&](const UnpagedAlert& a) { return !a.deferred && now - a.at > window; });
  for (const Event& e : events) {
    if (!alerts(e)) continue;
    // The aggregator's own events (+tilt, +fail-static) no other observer sees: its own to page.
    if (p == Paging::yes || e.subject.empty()) {
      alerter_->notify(e);
      continue;
    }
    if (unpaged_alerts_.size() >= kMaxUnpagedAlerts) {
      // The newest are the likeliest a dying leader missed: the oldest go.
      if (!unpaged_full_logged_) {
        logWarn("-alerts-not-kept", std::to_string(kMaxUnpagedAlerts) + " alerts already wait for the leader; " +
                                        unpaged_alerts_.front().event.name + " " +
                                        unpaged_alerts_.front().event.subject +
                                        " and the oldest after it are no longer kept (they are in the log)");
      }
      unpaged_full_logged_ = true;
      unpaged_alerts_.pop_front();
    } else {
      unpaged_full_logged_ = false;
    }
    unpaged_alerts_.push_back({now, e, p == Paging::unknown});
  }
}

Engine::Paging Engine::paging(const CoordinationView& v, const ObserverReport* report, SteadyTime now) const {
  if (v.leading) return Paging::yes;
  // Out of etcd's reach, once a round has failed; before the first round it is not known yet.
  if (!v.reachable) return v.etcd_errors > 0 ? Paging::yes : Paging::unknown;
  // Nobody leads (an election, or no observer fit to lead), or the key is ours but we do not lead (our lease
  // lapsed, or it is a killed incarnation's).
  if (v.leader.empty() || v.leader == config_.coordination.name) return Paging::yes;
  // A key in a name that is no configured observer's (written by hand, or by a stray aggregator) is nobody's.
  const std::vector<std::string>& observers = config_.coordination.quorum.observers;
  if (std::find(observers.begin(), observers.end(), v.leader) == observers.end()) return Paging::yes;
  // A leader key outlives a killed or stopped leader by up to a lease: a leader whose report has gone stale
  // pages nothing either. A report seen once only is fresh or stale by its next change, which this observer
  // waits for up to verdict_fresh from that first sight (it tells a live leader that paged from a dead one
  // that never will).
  if (report == nullptr) return Paging::yes;
  const auto fresh = config_.coordination.quorum.fresh_within;
  if (report->heard == SteadyTime{})
    return report->sighted != SteadyTime{} && now - report->sighted < fresh ? Paging::unknown : Paging::yes;
  return now - report->heard > fresh ? Paging::yes : Paging::no;
}

void Engine::writeUnjournaled(int64_t at_ms) {
  // One transaction for the tick's events, after those of earlier ticks the journal did not take (a lock
  // held past the wait, a full disk): a region of thousands of nodes going silent is thousands of events,
  // and a sync each would hold the decision back by as many disk flushes. While the journal is known to
  // fail nothing is tried (a failed write may wait for a lock up to the busy timeout, and the tick thread
  // must not stall on it); the tick's probe finds out when it can be written.
  if (unjournaled_.empty() || !journal_->health().writable) return;
  const Result<void> r = appendUnjournaled(at_ms, kEventWriteWait);
  if (r) {
    unjournaled_error_.clear();
    return;
  }
  counters_.journal_errors.fetch_add(1);
  if (r.error().message != unjournaled_error_) {  // once per error, not at every retry
    logError("-journal-write-failed", std::to_string(unjournaled_.size()) + " events, the first " +
                                          unjournaled_.front().name + " " + unjournaled_.front().subject + ": " +
                                          r.error().message);
  }
  unjournaled_error_ = r.error().message;
}

Result<void> Engine::appendUnjournaled(int64_t at_ms, std::chrono::milliseconds wait) {
  // The waiting events, then how many could not be kept, in one transaction: all or none are written.
  if (unjournaled_dropped_ > 0) {
    unjournaled_.push_back({0, at_ms, "+events-not-journaled", "",
                            std::to_string(unjournaled_dropped_) + " events could not be kept while the journal " +
                                "could not be written; they are in the log"});
  }
  Result<void> r = journal_->appendEvents(unjournaled_, wait);
  if (r) {
    if (unjournaled_dropped_ > 0) logWarn(unjournaled_.back().name, unjournaled_.back().detail);
    unjournaled_.clear();
    unjournaled_dropped_ = 0;
  } else if (unjournaled_dropped_ > 0) {
    unjournaled_.pop_back();
  }
  return r;
}

void Engine::persistState() {
  // One transaction: a restart never reads a new active region with the old failover time.
  const auto r = journal_->setMetas(
      {{"active_region", state_.active_region},
       {"paused", state_.paused ? "1" : "0"},
       {"last_failover_ms", state_.last_failover ? std::to_string(toUnixMillis(*state_.last_failover)) : ""},
       {"blocked_by_failed_plan", state_.blocked_by_failed_plan}});
  if (!journaled(r, "state")) counters_.journal_errors.fetch_add(1);
}

namespace {

PlanRecord planFor(const Decision& d, const std::vector<PlanSetup>& plans, int64_t created_ms) {
  PlanRecord p;
  p.created_ms = created_ms;
  p.kind = std::string(toString(d.kind));
  p.from = d.from;
  p.to = d.to;
  p.reason = d.reason;
  p.forced = d.forced;
  p.operator_requested = d.operator_requested;
  p.dry_run = d.dry_run;
  p.state = d.dry_run ? "dry_run" : d.needs_approval ? "awaiting_approval" : "running";
  for (const PlanSetup& ps : plans) {
    if (ps.from != d.from || ps.to != d.to) continue;
    for (size_t i = 0; i < ps.steps.size(); ++i) {
      StepRecord s;
      s.idx = static_cast<int>(i);
      s.action = ps.steps[i];
      s.state = d.dry_run ? "skipped" : "pending";
      p.steps.push_back(s);
    }
  }
  return p;
}

std::string decisionDetail(const Decision& d) {
  std::string detail = d.reason;
  if (d.dry_run) detail += " [dry run: nothing changes]";
  if (d.needs_approval) detail += " [awaiting approval]";
  if (d.forced) detail += " [forced]";
  return detail;
}

nlohmann::json decisionJson(const Decision& d, int64_t id) {
  return nlohmann::json{{"plan_id", id}, {"kind", toString(d.kind)}, {"from", d.from},
                        {"to", d.to},    {"reason", d.reason},       {"dry_run", d.dry_run}};
}

}  // namespace

Result<void> Engine::journalDecision(PlanRecord& p, const Decision& d, int64_t epoch) {
  std::string detail = decisionDetail(d);
  if (epoch != 0) detail += " [epoch " + std::to_string(epoch) + "]";
  if (auto r = journal_->createPlan(
          p, {0, p.created_ms, "+decision", p.kind + " " + d.from + " -> " + d.to, detail, 0, -1, epoch});
      !r) {
    counters_.journal_errors.fetch_add(1);
    return r.error();  // nothing acts on a decision that is not on disk
  }
  logWarn("+decision", "plan " + std::to_string(p.id) + ": " + stepLabel(p) + ": " + detail);
  return {};
}

void Engine::noteDecided(const Decision& d, int64_t id, int64_t epoch) {
  if (d.dry_run) {
    recordDryRun(state_, d);
  } else if (d.needs_approval) {
    state_.awaiting_approval = std::to_string(id);
  } else {
    state_.plan_running = true;
    plan_queue_.push_back(id);
    plan_epoch_[id] = epoch;
    plan_cv_.notify_all();
  }
}

Coordinator::Standing Engine::standing() {
  // What we publish as this observer. Isolated or in TILT we abstain on every region, since our own trouble
  // must not become a vote, and we do not lead: a leader that hears nobody, or whose clock jumps, decides
  // nothing, and would only keep a healthy observer from deciding. Nor while our journal fails: nothing acts
  // on a decision that is not on disk.
  Coordinator::Standing out;
  const SteadyTime now = clock_.steadyNow();
  const uint64_t journal_errors = counters_.journal_errors.load();
  if (journal_errors != journal_errors_seen_) {
    journal_errors_seen_ = journal_errors;
    journal_failed_at_ = now;
  }
  std::lock_guard lock(mu_);
  if (observer_.isolated()) {
    out.unfit =
        observer_.heardAnyNode() ? "isolated: no heartbeat from any node" : "isolated: no node heard since start";
  } else if (observer_.tilted(now)) {
    out.unfit = "TILT: the clock jumped or the process stalled";
  } else {
    for (const TrackedRegion& r : observer_.regions()) out.verdicts.emplace_back(r.config.name, observer_.vote(r, now));
  }
  {
    std::lock_guard paged(paged_mu_);
    out.paged.assign(known_paged_.begin(), known_paged_.end());
  }
  // Unfit for as long as the journal is known to fail or events wait to be written (a lock held, a full disk:
  // every probe may fail without a new error counted), and for a while after any failed write, which a
  // probe that then succeeds would not show.
  if (out.unfit.empty() && !state_.journal_unwritable.empty()) {
    out.unfit = "the journal cannot be written: " + state_.journal_unwritable;
  } else if (out.unfit.empty() && journal_failed_at_ != SteadyTime{} && now - journal_failed_at_ < kJournalUnfitFor) {
    out.unfit = "the journal failed a write in the last " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kJournalUnfitFor).count()) + " s";
  }
  return out;
}

Result<int64_t> Engine::enact(const Decision& d) {
  counters_.decisions.fetch_add(1, std::memory_order_relaxed);
  PlanRecord p = planFor(d, config_.plans, nowMs());
  if (auto r = journalDecision(p, d, 0); !r) return r.error();
  noteDecided(d, p.id, 0);
  return p.id;
}

Result<int64_t> Engine::enactShared(const Decision& d, const CoordinationView& v) {
  counters_.decisions.fetch_add(1, std::memory_order_relaxed);
  PlanRecord p = planFor(d, config_.plans, nowMs());
  // Past every id written here, or the journal would refuse the plan once shared: a plan in etcd this
  // aggregator cannot run. Unreadable, nothing is shared.
  const Result<int64_t> floor = journal_->lastPlanId();
  if (!floor) {
    logError("-decision-not-shared",
             stepLabel(p) + ": the journal's last plan id cannot be read: " + floor.error().message);
    return floor.error();
  }
  // The shared plan first: what is not in etcd, no other leader could resume.
  auto id = coordinator_->createPlan(v.epoch, sharedPlan(p, p.state), floor.value(), v.plan_revision, v.state_revision);
  if (!id) {
    logError("-decision-not-shared", stepLabel(p) + ": " + id.error().code + ": " + id.error().message);
    return id.error();
  }
  p.id = id.value();
  // Shared but not journaled here: not run here either; the takeover path adopts it into the journal.
  if (auto r = journalDecision(p, d, v.epoch); !r) return r.error();
  std::lock_guard lock(mu_);
  noteDecided(d, p.id, v.epoch);
  return p.id;
}

Observations Engine::seenNow(SteadyTime now, const CoordinationView* shared) const {
  Observations seen = observer_.observations(now);
  if (shared == nullptr) return seen;
  std::vector<std::string> names;
  for (const RegionSummary& r : seen.regions) names.push_back(r.name);
  applyTally(seen, tally(config_.coordination.quorum, names, shared->reports, now));
  if (!shared->reachable) {
    seen.quorum_lost = true;
    seen.quorum_detail = "etcd unreachable (" + shared->error + ")";
  }
  return seen;
}

void Engine::adoptShared(const CoordinationView& v) {
  if (!v.reachable) return;  // keep what we knew; nobody acts without the store anyway
  journal_->setEpoch(v.epoch);
  if (v.state) {
    if (observer_.region(v.state->active_region) != nullptr) state_.active_region = v.state->active_region;
    state_.paused = v.state->paused;
    const auto last =
        v.state->last_failover_ms != 0 ? std::optional(fromUnixMillis(v.state->last_failover_ms)) : std::nullopt;
    // A failover another aggregator finished is known by its wall time only; ours (the same within the
    // moment between our end and its write) keeps its monotonic one.
    const bool ours = last && state_.last_failover && *last - *state_.last_failover < std::chrono::seconds{5} &&
                      *state_.last_failover - *last < std::chrono::seconds{5};
    if (!ours) state_.last_failover_steady.reset();
    state_.last_failover = last;
    state_.blocked_by_failed_plan = v.state->blocked_by_failed_plan;
    state_.rejected = v.state->rejected;
  }
  const bool shared_running =
      v.plan_unreadable || (v.plan && v.plan->status == "running" && v.plan->id != finished_shared_);
  state_.plan_running = shared_running || executing_ != 0 || !plan_queue_.empty();
  state_.awaiting_approval =
      v.plan && v.plan->status == "awaiting_approval" ? std::to_string(v.plan->id) : std::string();
}

void Engine::resumeSharedPlan(const CoordinationView& v) {
  if (!v.leading || !v.plan || v.plan->status != "running") return;
  // Serialised with decisions: a plan this aggregator is deciding right now is queued by that path, once.
  std::lock_guard serial(enact_mu_);
  const int64_t id = v.plan->id;
  {
    std::lock_guard lock(mu_);
    if (executing_ == id || finished_shared_ == id ||
        std::find(plan_queue_.begin(), plan_queue_.end(), id) != plan_queue_.end()) {
      return;
    }
  }
  const PlanRecord p = planRecord(*v.plan);
  if (auto wait = takeoverWait(*v.plan, v); wait.count() > 0) {
    if (takeover_wait_logged_ != id) {
      takeover_wait_logged_ = id;
      logWarn("+plan-takeover-wait", "plan " + std::to_string(id) + ": a step was started under epoch " +
                                         std::to_string(v.plan->epoch) +
                                         "; its attempt may still be running there, so it runs here again only " +
                                         std::to_string(wait.count()) + "ms from now (the step's attempt bound)");
    }
    return;
  }
  const std::string detail = "plan " + std::to_string(id) + " (" + stepLabel(p) + ") resumed by " +
                             config_.coordination.name + " under epoch " + std::to_string(v.epoch) +
                             " (last written under epoch " + std::to_string(v.plan->epoch) + ")";
  if (auto r = journal_->adoptPlan(p, {0, nowMs(), "+plan-takeover", p.to, detail, 0, -1, v.epoch}); !r) {
    if (r.error().code == "journal") counters_.journal_errors.fetch_add(1);  // a conflict is no disk trouble
    logError("-plan-takeover-failed", detail + ": " + r.error().message);
    return;
  }
  logWarn("+plan-takeover", detail);
  std::lock_guard lock(mu_);
  plan_queue_.push_back(id);
  plan_epoch_[id] = v.epoch;
  state_.plan_running = true;
  plan_cv_.notify_all();
}

std::chrono::milliseconds Engine::takeoverWait(const SharedPlan& plan, const CoordinationView& v) const {
  // A step another leadership started may still be running there: a deposed leader's attempt (or the
  // command it spawned, which outlives a killed aggregator) ends within the step's attempt bound of its
  // start, and that start came before its lease lapsed, so before our leadership began. Until that bound
  // has passed by our clock (with room for clocks that run at different rates), running the step again
  // here could overlap it.
  if (plan.epoch == v.epoch) return std::chrono::milliseconds{0};
  for (const SharedStep& step : plan.steps) {
    if (step.state != "started") continue;
    const auto a = config_.actions.find(step.action);
    auto bound = std::chrono::milliseconds{0};
    if (a != config_.actions.end()) {
      const StepPolicy& policy = a->second.policy;
      bound = policy.timeout;
      if (policy.deadline.count() > 0) bound = std::min(bound, policy.deadline);
    }
    // The bound its leader wrote with the intent wins when longer: configurations may differ.
    bound = std::max(bound, std::chrono::milliseconds{step.bound_ms});
    // Room for clock rates and for the exec backstop's 100 ms after the deadline.
    bound += bound / 10 + std::chrono::milliseconds{250};
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steadyNow() - v.leading_since);
    return std::max(std::chrono::milliseconds{0}, bound - waited);
  }
  return std::chrono::milliseconds{0};
}

SharedState Engine::finalState(const PlanRecord& p, const std::string& outcome, const std::optional<SharedState>& now) {
  SharedState s;
  if (now) {
    s = *now;
  } else {
    std::lock_guard lock(mu_);
    s.active_region = state_.active_region;
    s.paused = state_.paused;
  }
  if (outcome == "done") {
    s.active_region = p.to;
    s.last_failover_ms = nowMs();
  } else {
    s.blocked_by_failed_plan = std::to_string(p.id);
  }
  return s;
}

void Engine::noteHold(const std::string& held, std::vector<Event>& events) {
  // Once when a hold starts (or its kind changes), once when it clears: never a line per tick. The
  // minimum interval's countdown changes every tick, so holds compare by their reason up to "; clears in".
  const auto kind = [](const std::string& r) { return r.substr(0, r.find("; clears in")); };
  if (kind(held) == kind(hold_)) {
    hold_ = held;
    return;
  }
  if (!hold_.empty() && held.empty()) {
    events.push_back({"-failover-held", state_.active_region, "no longer held (" + kind(hold_) + ")"});
  }
  if (!held.empty()) events.push_back({"+failover-held", state_.active_region, held});
  hold_ = held;
}

void Engine::noteJournalHealth(const JournalHealth& journal) {
  // Events still waiting hold decisions even once a probe or another write succeeds: a decision never
  // follows events that are not on disk, and the reason stays the same while they wait (no line per probe).
  const std::string reason = !unjournaled_reason_.empty() ? unjournaled_reason_ : journal.writable ? "" : journal.error;
  // Logged when it changes, whichever write found out (a probe, the tick's events, a plan's step).
  if (!reason.empty() && state_.journal_unwritable.empty()) {
    logError("+journal-unwritable",
             reason + (unjournaled_reason_.empty() ? ": no automatic decision is made until a write succeeds"
                                                   : ": no automatic decision is made until they are written"));
  } else if (reason.empty() && !state_.journal_unwritable.empty()) {
    logInfo("-journal-unwritable", "the journal can be written again");
  }
  state_.journal_unwritable = reason;
}

Result<nlohmann::json> Engine::decideAndEnact(const std::optional<OperatorRequest>& request) {
  std::lock_guard serial(enact_mu_);
  std::optional<CoordinationView> shared;
  if (coordinator_) shared = coordinator_->view();
  Decision d;
  {
    std::lock_guard lock(mu_);
    if (shared && !shared->leading) {
      return makeError("refused", "not the leader: " +
                                      (shared->leader.empty()
                                           ? std::string("nobody leads") +
                                                 (shared->reachable ? "" : " we can see (etcd: " + shared->error + ")")
                                           : shared->leader + " leads (epoch " + std::to_string(shared->epoch) +
                                                 "); ask its aggregator"));
    }
    if (shared) adoptShared(*shared);
    // The journal as of now, not as of this tick's start: the tick's events may have failed to be written
    // since, and no decision follows events that are not on disk.
    noteJournalHealth(journal_->health());
    const SteadyTime now = clock_.steadyNow();
    d = decide(seenNow(now, shared ? &*shared : nullptr), state_, config_.policy, request, now, clock_.wallNow());
    if (!d.acts()) return makeError("refused", d.reason);
    if (!shared) {
      auto id = enact(d);
      if (!id) return id.error();
      return decisionJson(d, id.value());
    }
  }
  auto id = enactShared(d, *shared);
  if (!id) return id.error();
  return decisionJson(d, id.value());
}

void Engine::tickLoop() {
  nameThisThread("tick");
  std::vector<Event> events;
  while (!cancel_.load()) {
    std::this_thread::sleep_for(config_.tick);
    const SteadyTime now = clock_.steadyNow();
    events.clear();
    std::optional<CoordinationView> shared;
    if (coordinator_) shared = coordinator_->view();
    JournalHealth journal = journal_->health();
    if (!journal.writable && now - last_journal_probe_ >= kJournalProbeEvery) {
      // Nothing else may write for a while (no decision is made while it fails): ask it directly.
      last_journal_probe_ = now;
      if (journal_->probe().ok()) journal = journal_->health();
    }
    bool acts = false;
    {
      std::lock_guard lock(mu_);
      noteJournalHealth(journal);
      events.swap(pending_events_);
      observer_.tick(now, events);
      if (shared) adoptShared(*shared);
      const Observations seen = seenNow(now, shared ? &*shared : nullptr);
      refreshState(state_, seen);
      if (!shared || shared->leading) {
        const Decision d = decide(seen, state_, config_.policy, std::nullopt, now, clock_.wallNow());
        acts = d.acts();
        noteHold(d.held, events);
      } else {
        hold_.clear();  // the leader decides, and holds: a follower shows no hold of its own
      }
    }
    // Events reach the journal before the decision they lead to, and without the lock held, so ingest
    // never waits on their write.
    page(events, shared, now);
    publish(events);
    expireStaleApproval(now, shared);
    if (shared) resumeSharedPlan(*shared);
    if (!acts) continue;
    if (auto r = decideAndEnact(std::nullopt); !r && r.error().code != "refused") {
      logError("-decision-not-enacted", r.error().message + "; will decide again");
    }
  }
}

void Engine::placeResource(const std::string& action, ResourcePlacement p) {
  const auto a = config_.actions.find(action);
  if (a != config_.actions.end()) resources_.record(a->second.resource, std::move(p));
}

void Engine::executorLoop() {
  nameThisThread("executor");
  PlanRunner runner(*journal_, config_.actions, clock_, counters_.steps, config_.max_retry_after);
  runner.onStepDone([this](const PlanRecord& p, const StepRecord& s, int64_t at_ms) {
    std::lock_guard lock(mu_);
    placeResource(s.action, {p.to, s.action, p.id, s.idx, at_ms});
  });
  for (;;) {
    int64_t id = 0;
    int64_t epoch = 0;
    {
      std::unique_lock lock(mu_);
      plan_cv_.wait(lock, [&] { return stopping_ || !plan_queue_.empty(); });
      if (stopping_) return;
      id = plan_queue_.front();
      plan_queue_.pop_front();
      epoch = plan_epoch_[id];
      plan_epoch_.erase(id);
      executing_ = id;
    }
    auto plan = journal_->plan(id);
    if (!plan || !plan.value()) {
      logError("-plan-missing", "plan " + std::to_string(id) + " not in the journal");
      std::lock_guard lock(mu_);
      executing_ = 0;
      state_.plan_running = !plan_queue_.empty();
      continue;
    }
    const PlanRecord& p = *plan.value();
    std::unique_ptr<EpochFence> fence;
    if (coordinator_) {
      fence =
          std::make_unique<EpochFence>(*coordinator_, epoch, sharedPlan(p, "running"),
                                       [this, &p](const std::string& outcome, const std::optional<SharedState>& now) {
                                         return finalState(p, outcome, now);
                                       });
    }
    std::vector<std::string> on_failure;
    for (const PlanSetup& ps : config_.plans) {
      if (ps.from == p.from && ps.to == p.to) on_failure = ps.on_failure;
    }
    const std::string outcome = runner.run(p, cancel_, fence.get(), on_failure);
    std::lock_guard lock(mu_);
    executing_ = 0;
    if (outcome.empty()) return;  // stopping: the plan resumes at the next start
    if (outcome == "done") {
      counters_.plans_done.fetch_add(1);
      state_.active_region = p.to;
      state_.last_failover = clock_.wallNow();
      state_.last_failover_steady = clock_.steadyNow();
      if (coordinator_) finished_shared_ = id;
    } else if (outcome == "failed") {
      counters_.plans_failed.fetch_add(1);
      state_.blocked_by_failed_plan = std::to_string(p.id);
      if (coordinator_) finished_shared_ = id;
    }
    // "deposed" and "held": the shared plan goes on under whoever leads (us again, once we can).
    state_.plan_running = !plan_queue_.empty();
    persistState();
  }
}

Result<nlohmann::json> Engine::requestFailover(const std::string& to, bool force, const std::string& by) {
  return decideAndEnact(OperatorRequest{OperatorRequest::Kind::failover, to, force, by});
}

Result<nlohmann::json> Engine::requestFailback(bool force, const std::string& by) {
  return decideAndEnact(OperatorRequest{OperatorRequest::Kind::failback, "", force, by});
}

std::string Engine::staleApproval(const std::string& kind, const std::string& from, const std::string& to,
                                  const CoordinationView* shared) const {
  // An approval is of the decision as it would be made now, not as it was made, maybe long ago.
  if (from != state_.active_region) return "the active region is now " + state_.active_region + ", not " + from;
  const Observations seen = seenNow(clock_.steadyNow(), shared);
  for (const RegionSummary& r : seen.regions) {
    if (kind == "failover" && r.name == from && r.verdict != Verdict::down)
      return "region " + from + " is " + std::string(toString(r.verdict)) + " again: nothing to fail over";
    if (r.name == to && r.verdict != Verdict::up)
      return "target " + to + " is " + std::string(toString(r.verdict)) + " now";
  }
  return "";
}

Result<std::optional<PlanRecord>> Engine::localAwaiting(int64_t plan_id) {
  auto plan = journal_->plan(plan_id);
  if (!plan) return plan.error();
  if (!plan.value()) return makeError("not_found", "no plan " + std::to_string(plan_id));
  if (plan.value()->state != "awaiting_approval") {
    return makeError("refused",
                     "plan " + std::to_string(plan_id) + " is " + plan.value()->state + ", not awaiting approval");
  }
  return std::move(plan).value();
}

Result<Coordinator::SharedRead> Engine::sharedAwaiting(const CoordinationView& v, int64_t plan_id) {
  // Approving or rejecting is the leader's, on the shared plan as it is now (a decision seconds old is
  // not yet in our last round's view).
  if (!v.leading) return makeError("refused", "not the leader" + (v.leader.empty() ? "" : ": " + v.leader + " leads"));
  auto current = coordinator_->readShared();
  if (!current) return current.error();
  const std::optional<SharedPlan>& shared = current.value().plan;
  if (!shared || shared->id != plan_id || shared->status != "awaiting_approval")
    return makeError("refused", "plan " + std::to_string(plan_id) + " is not the shared plan awaiting approval");
  return current;
}

Result<nlohmann::json> Engine::approve(int64_t plan_id, const std::string& by) {
  if (coordinator_) {
    // The shared plan is approved where it lives, as it is there now (a decision seconds old is not yet in
    // our last round's view); whoever leads then runs it (the takeover path).
    const CoordinationView v = coordinator_->view();
    auto current = sharedAwaiting(v, plan_id);
    if (!current) return current.error();
    const std::optional<SharedPlan>& shared = current.value().plan;
    {
      std::lock_guard lock(mu_);
      if (const std::string stale = staleApproval(shared->kind, shared->from, shared->to, &v); !stale.empty())
        return makeError("refused", "plan " + std::to_string(plan_id) + " is stale: " + stale);
    }
    SharedPlan approved = *shared;
    approved.status = "running";
    if (auto r = coordinator_->updatePlan(v.epoch, approved, std::nullopt, current.value().plan_revision); !r)
      return r.error();
    journaled(
        journal_->setPlanState(plan_id, "running", {0, nowMs(), "+plan-approved", approved.to, "approved by " + by}),
        "+plan-approved");
    logWarn("+plan-approved", "plan " + std::to_string(plan_id) + " approved by " + by);
    return nlohmann::json{{"plan_id", plan_id}, {"state", "running"}};
  }
  std::lock_guard lock(mu_);
  auto plan = localAwaiting(plan_id);
  if (!plan) return plan.error();
  if (state_.plan_running) return makeError("refused", "another plan is running");
  if (const std::string stale = staleApproval(plan.value()->kind, plan.value()->from, plan.value()->to, nullptr);
      !stale.empty()) {
    return makeError("refused", "plan " + std::to_string(plan_id) + " is stale: " + stale);
  }
  if (auto r = journal_->setPlanState(plan_id, "running",
                                      {0, nowMs(), "+plan-approved", plan.value()->to, "approved by " + by});
      !r) {
    return r.error();
  }
  logWarn("+plan-approved", "plan " + std::to_string(plan_id) + " approved by " + by);
  state_.awaiting_approval.clear();
  state_.plan_running = true;
  plan_queue_.push_back(plan_id);
  plan_cv_.notify_all();
  return nlohmann::json{{"plan_id", plan_id}, {"state", "running"}};
}

Result<nlohmann::json> Engine::reject(int64_t plan_id, const std::string& by) {
  const std::string event_detail = "rejected by " + by + ": no failover for this outage";
  if (coordinator_) {
    const CoordinationView v = coordinator_->view();
    auto current = sharedAwaiting(v, plan_id);
    if (!current) return current.error();
    const std::optional<SharedPlan>& shared = current.value().plan;
    SharedPlan rejected = *shared;
    rejected.status = "rejected";
    SharedState s = current.value().state.value_or(SharedState{});
    if (s.active_region.empty()) s.active_region = shared->from;
    s.rejected = shared->from + ">" + shared->to;
    if (auto r = coordinator_->updatePlan(v.epoch, rejected, s, current.value().plan_revision,
                                          current.value().state_revision);
        !r) {
      return r.error();
    }
    journaled(journal_->setPlanState(plan_id, "rejected", {0, nowMs(), "-plan-rejected", shared->to, event_detail}),
              "-plan-rejected");
    logWarn("-plan-rejected", "plan " + std::to_string(plan_id) + ": " + event_detail);
    std::lock_guard lock(mu_);
    state_.rejected = s.rejected;
    state_.awaiting_approval.clear();
    return nlohmann::json{{"plan_id", plan_id}, {"state", "rejected"}};
  }
  std::lock_guard lock(mu_);
  auto plan = localAwaiting(plan_id);
  if (!plan) return plan.error();
  if (auto r =
          journal_->setPlanState(plan_id, "rejected", {0, nowMs(), "-plan-rejected", plan.value()->to, event_detail});
      !r) {
    return r.error();
  }
  logWarn("-plan-rejected", "plan " + std::to_string(plan_id) + ": " + event_detail);
  state_.awaiting_approval.clear();
  state_.rejected = plan.value()->from + ">" + plan.value()->to;
  return nlohmann::json{{"plan_id", plan_id}, {"state", "rejected"}};
}

void Engine::expireStaleApproval(SteadyTime now, const std::optional<CoordinationView>& shared) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    if (state_.awaiting_approval.empty()) {
      awaiting_.clear();
      return;
    }
    if (awaiting_ != state_.awaiting_approval) {  // first seen now, by our clock
      awaiting_ = state_.awaiting_approval;
      awaiting_since_ = now;
      return;
    }
    if (now - awaiting_since_ <= config_.policy.approval_timeout) return;
    if (shared && !shared->leading) return;  // the leader expires it
    id = awaiting_;
  }
  const int64_t plan_id = std::stoll(id);
  const std::string detail = "not approved within approval_timeout (" +
                             std::to_string(config_.policy.approval_timeout.count() / 1000) +
                             "s); decided again if still called for";
  if (shared) {
    auto current = coordinator_->readShared();
    if (!current || !current.value().plan || current.value().plan->id != plan_id ||
        current.value().plan->status != "awaiting_approval") {
      return;  // changed meanwhile, or etcd cannot tell: next tick
    }
    SharedPlan expired = *current.value().plan;
    expired.status = "expired";
    if (auto r = coordinator_->updatePlan(shared->epoch, expired, std::nullopt, current.value().plan_revision); !r) {
      logWarn("-plan-expire-failed", r.error().message);
      return;
    }
  }
  journaled(journal_->setPlanState(plan_id, "expired", {0, nowMs(), "-plan-expired", "", detail}), "-plan-expired");
  logWarn("-plan-expired", "plan " + id + ": " + detail);
  std::lock_guard lock(mu_);
  if (state_.awaiting_approval == id) state_.awaiting_approval.clear();
  awaiting_.clear();
}

Result<nlohmann::json> Engine::setPaused(bool paused, const std::string& by) {
  if (coordinator_) {
    // Pause is cluster-wide: every aggregator adopts it, whoever leads now or later. Read fresh, so a
    // change of the last moments is neither lost nor a reason to refuse.
    auto current = coordinator_->readShared();
    if (!current) return makeError("unavailable", "etcd: " + current.error().message + "; the pause is shared there");
    SharedState s;
    if (current.value().state) {
      s = *current.value().state;
    } else {
      std::lock_guard lock(mu_);
      s.active_region = state_.active_region;
    }
    s.paused = paused;
    if (!paused) s.blocked_by_failed_plan.clear();
    if (auto r = coordinator_->updateState(s, current.value().state_revision); !r) return r.error();
  }
  std::lock_guard lock(mu_);
  std::string detail = (paused ? "automatic decisions paused by " : "automatic decisions resumed by ") + by;
  if (!paused && !state_.blocked_by_failed_plan.empty()) {
    detail += "; failed plan " + state_.blocked_by_failed_plan + " acknowledged";
  }
  const auto written = journal_->event({0, nowMs(), paused ? "+pause" : "-pause", "", detail});
  // Deciding alone, automation resumes only once that is on disk (a restart would pause it again, and the
  // journal must say who let it go). A pause holds at once whatever the journal says: the safe direction.
  // With etcd the shared state, written above, is the record every aggregator follows.
  if (!written && !paused && !coordinator_) {
    logError("-resume-refused", "asked by " + by + ": the journal cannot record it: " + written.error().message);
    return makeError(written.error().code, "not resumed: the journal cannot record it: " + written.error().message);
  }
  state_.paused = paused;
  if (!paused) state_.blocked_by_failed_plan.clear();
  // Logged whether or not the journal took it: the log is then the only record of who did it.
  logWarn(paused ? "+pause" : "-pause", detail + (written ? "" : " (not journaled: " + written.error().message + ")"));
  if (!written) {
    return makeError(written.error().code, std::string(paused ? "paused" : "resumed") +
                                               ", but the journal could not record it: " + written.error().message);
  }
  persistState();
  return nlohmann::json{{"paused", paused}};
}

std::optional<CoordinationView> Engine::coordination() const {
  if (!coordinator_) return std::nullopt;
  return coordinator_->view();
}

}  // namespace hale::aggregator
