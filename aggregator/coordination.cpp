#include "coordination.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "log.h"
#include "thread_name.h"

namespace hale::aggregator {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SharedStep, action, state, bound_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SharedPlan, id, epoch, created_ms, kind, from, to, reason, forced,
                                   operator_requested, status, steps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SharedState, active_region, paused, last_failover_ms,
                                                blocked_by_failed_plan, rejected)

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::optional<Verdict> verdictNamed(const std::string& s) {
  for (Verdict v : {Verdict::up, Verdict::degraded, Verdict::down}) {
    if (toString(v) == s) return v;
  }
  return std::nullopt;
}

// Our own lease counts as lost this long before it can expire in the store: the store's clock may run
// faster than ours, and a renewal in flight may not have landed.
milliseconds safetyMargin(milliseconds ttl) { return std::min(milliseconds{1000}, ttl / 3); }

// What every observer must agree on for a quorum to mean the same thing everywhere, readable in etcd.
std::string quorumFingerprint(const QuorumConfig& q) {
  std::vector<std::string> names = q.observers;
  std::sort(names.begin(), names.end());
  std::string out = "observers=";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  return out + ";quorum=" + std::to_string(q.needed()) + ";fresh_ms=" + std::to_string(q.fresh_within.count());
}

std::optional<ObserverReport> decodeReport(const std::string& name, const std::string& text, std::string& config) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  // json::value() throws when the field has another type: a report anyone can write must not end the round.
  const auto c = j.find("config");
  config = c != j.end() && c->is_string() ? c->get<std::string>() : std::string();
  const auto regions = j.find("regions");
  if (regions == j.end() || !regions->is_object()) return std::nullopt;
  ObserverReport r;
  r.observer = name;
  for (const auto& [region, v] : regions->items()) {
    if (!v.is_string()) return std::nullopt;
    const auto verdict = verdictNamed(v.get<std::string>());
    if (!verdict) return std::nullopt;
    r.verdicts.emplace_back(region, *verdict);
  }
  // Optional (an older aggregator sends none), and only read within its bounds.
  if (const auto p = j.find("paged"); p != j.end() && p->is_array() && p->size() <= Coordinator::kMaxReportedPages) {
    for (const json& k : *p) {
      if (k.is_string() && k.get_ref<const std::string&>().size() <= Coordinator::kMaxAlertKey)
        r.paged.push_back(k.get<std::string>());
    }
  }
  return r;
}

// The shared records in the store, as JSON objects whose keys are the field names (nlohmann's
// definitions), dumped with replacement so an odd byte can never make a record unwritable.
template <typename T>
std::string encode(const T& record) {
  return json(record).dump(-1, ' ', false, json::error_handler_t::replace);
}

// nullopt for a record that is not JSON or misses a field: it is reported, never guessed at.
template <typename T>
std::optional<T> decode(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    return j.get<T>();
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Coordinator::Coordinator(CoordinationConfig config, const Clock& clock, VerdictSource verdicts)
    : config_(std::move(config)),
      clock_(clock),
      verdicts_(std::move(verdicts)),
      client_(config_.store),
      prefix_("/hale/" + config_.cluster + "/"),
      fingerprint_(quorumFingerprint(config_.quorum)) {
  view_.error = "not started";
}

Coordinator::~Coordinator() { stop(); }

void Coordinator::start() {
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Coordinator::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  if (lease_ != 0) {
    if (auto r = client_.revoke(lease_); !r) logWarn("-coordination-revoke", r.error().message);
    lease_ = 0;
  }
  std::lock_guard lock(mu_);
  view_.leading = false;
}

CoordinationView Coordinator::view() const {
  std::lock_guard lock(mu_);
  CoordinationView v = view_;
  v.leading = v.leading && clock_.steadyNow() < lease_valid_until_;
  return v;
}

bool Coordinator::leads(int64_t epoch) const {
  std::lock_guard lock(mu_);
  return view_.leading && view_.epoch == epoch && clock_.steadyNow() < lease_valid_until_;
}

void Coordinator::loop() {
  nameThisThread("coordination");
  while (!stop_.load()) {
    const SteadyTime started = clock_.steadyNow();
    round();
    // Sleep the rest of the interval, in small steps so stop() is prompt.
    while (!stop_.load() && clock_.steadyNow() - started < config_.publish_interval) {
      std::this_thread::sleep_for(std::min(milliseconds{20}, config_.publish_interval));
    }
  }
}

void Coordinator::lost(const std::string& why) {
  std::lock_guard lock(mu_);
  if (view_.reachable || view_.error != why) logWarn("-coordination", why);
  ++view_.etcd_errors;
  view_.reachable = false;
  view_.error = why;
  view_.leading = false;
}

void Coordinator::round() {
  const SteadyTime sent = clock_.steadyNow();
  if (lease_ == 0) {
    auto l = client_.grant(config_.lease_ttl);
    if (!l) return lost("etcd: " + l.error().message);
    lease_ = l.value().id;
    granted_ttl_ = l.value().ttl;
    next_keepalive_ = sent + granted_ttl_ / 3;
    std::lock_guard lock(mu_);
    lease_valid_until_ = sent + granted_ttl_ - safetyMargin(granted_ttl_);
  } else if (sent >= next_keepalive_) {
    auto ttl = client_.keepAlive(lease_);
    if (!ttl) return lost("etcd: " + ttl.error().message);
    if (ttl.value().count() == 0) {
      lease_ = 0;  // expired in the store (we were stopped or cut off too long): a new one next round
      return lost("our lease expired in etcd; leadership and verdicts lapsed");
    }
    next_keepalive_ = sent + granted_ttl_ / 3;
    std::lock_guard lock(mu_);
    lease_valid_until_ = sent + ttl.value() - safetyMargin(granted_ttl_);
  }

  Standing standing = verdicts_();
  // A configuration conflict seen in the last round (another quorum setup, an unlisted observer, our own
  // name used by another aggregator) makes this observer no candidate; a name clash also silences its
  // verdicts, which the other aggregator's would overwrite anyway.
  if (standing.unfit.empty()) standing.unfit = conflict_;
  if (name_clash_) standing.verdicts.clear();
  json regions = json::object();
  for (const auto& [region, verdict] : standing.verdicts) regions[region] = std::string(toString(verdict));
  json report = {{"seq", ++published_}, {"config", fingerprint_}, {"regions", regions}};
  if (!standing.paged.empty()) report["paged"] = standing.paged;
  const std::string mine = report.dump(-1, ' ', false, json::error_handler_t::replace);
  // The observers are read before our own put, so our key as another aggregator left it shows a clash.
  const std::vector<etcd::Operation> reads = {etcd::get(key("leader")), etcd::get(key("plan")),
                                              etcd::get(key("state"))};
  std::vector<etcd::Operation> success = {etcd::get(key("observers/"), true),
                                          etcd::put(key("observers/" + config_.name), mine, lease_)};
  if (standing.unfit.empty()) success.push_back(etcd::put(key("leader"), config_.name, lease_));
  std::vector<etcd::Operation> failure = {etcd::get(key("observers/"), true),
                                          etcd::put(key("observers/" + config_.name), mine, lease_)};
  success.insert(success.end(), reads.begin(), reads.end());
  failure.insert(failure.end(), reads.begin(), reads.end());
  auto r = client_.txn({etcd::createRevisionIs(key("leader"), 0)}, success, failure);
  if (!r) {
    if (r.error().message.find("lease not found") != std::string::npos) lease_ = 0;
    return lost("etcd: " + r.error().message);
  }
  if (r.value().ranges.size() != reads.size() + 1) return lost("etcd: a transaction answer without its reads");
  const SteadyTime now = clock_.steadyNow();
  readBack(r.value(), now, standing.unfit);
  // A round that took this long reached etcd only just: others' rounds may not have; count from now.
  if (now - sent > config_.publish_interval + config_.store.timeout) reachable_since_ = now;
  if (!standing.unfit.empty() && !r.value().ranges[1].empty() && r.value().ranges[1].front().lease == lease_) {
    resign(standing.unfit);
  } else if (standing.unfit.empty()) {
    evictSilentLeader(now);
  }
}

void Coordinator::evictSilentLeader(SteadyTime now) {
  std::string leader;
  int64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    if (view_.leader.empty() || view_.leader == config_.name) return;
    leader = view_.leader;
    epoch = view_.epoch;
  }
  const auto seen = sightings_.find(leader);
  if (seen == sightings_.end()) return;
  // Silent for a whole lease by our clock, and we have heard etcd long enough for a live leader to have
  // written since (etcd's own trouble silences everyone).
  // The lease as etcd granted it, and room for a live leader to get a round through every endpoint.
  const auto silence = std::max(config_.lease_ttl, granted_ttl_);
  const auto grace = 2 * config_.publish_interval +
                     config_.store.timeout * static_cast<int64_t>(std::max<size_t>(1, config_.store.endpoints.size()));
  if (now - seen->second.first_seen <= silence || now - reachable_since_ <= grace) return;
  auto r = client_.txn({etcd::createRevisionIs(key("leader"), epoch),
                        etcd::modRevisionIs(key("observers/" + leader), seen->second.revision)},
                       {etcd::erase(key("leader"))});
  if (!r) return logWarn("-leader-evict-failed", "etcd: " + r.error().message);
  if (!r.value().succeeded) return;  // it spoke meanwhile, or someone else evicted it
  logWarn("+leader-evicted",
          leader + " (epoch " + std::to_string(epoch) + ") has published nothing for " +
              std::to_string(std::chrono::duration_cast<milliseconds>(now - seen->second.first_seen).count()) +
              "ms; its key is deleted so another observer can lead");
  std::lock_guard lock(mu_);
  ++view_.evictions;
}

void Coordinator::resign(const std::string& why) {
  int64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    epoch = view_.epoch;
  }
  auto r = client_.txn({etcd::createRevisionIs(key("leader"), epoch)}, {etcd::erase(key("leader"))});
  if (!r) return logWarn("-leader-resign-failed", "etcd: " + r.error().message + "; our lease ends it anyway");
  if (!r.value().succeeded) return;
  logWarn("-leader-resigned", config_.name + " gives up epoch " + std::to_string(epoch) + ": " + why);
  std::lock_guard lock(mu_);
  ++view_.resignations;
}

void Coordinator::readBack(const etcd::TxnResult& r, SteadyTime now, const std::string& unfit) {
  std::lock_guard lock(mu_);
  if (!view_.reachable) reachable_since_ = now;
  view_.unfit = unfit;
  const bool was_leading = view_.leading;
  const int64_t previous_epoch = view_.epoch;
  const std::string previous_leader = view_.leader;
  view_.reachable = true;
  view_.error.clear();
  view_.leader.clear();
  view_.epoch = 0;
  view_.leading = false;
  if (!r.ranges[1].empty()) {
    const etcd::KeyValue& l = r.ranges[1].front();
    view_.leader = l.value;
    view_.epoch = l.create_revision;
    view_.leading =
        unfit.empty() && l.value == config_.name && l.lease == lease_ && lease_ != 0 && now < lease_valid_until_;
  }
  if (view_.leading && (!was_leading || view_.epoch != previous_epoch)) view_.leading_since = now;
  if (view_.leading && (!was_leading || view_.epoch != previous_epoch)) ++view_.terms_won;
  if (view_.leading && !was_leading) {
    logWarn("+leader", config_.name + " leads with epoch " + std::to_string(view_.epoch));
  } else if (!view_.leading && was_leading) {
    logWarn("-leader", config_.name + " no longer leads (leader now: " +
                           (view_.leader.empty() ? std::string("none") : view_.leader) + ")");
  } else if (view_.leader != previous_leader && !view_.leader.empty()) {
    logInfo("+leader", view_.leader + " leads with epoch " + std::to_string(view_.epoch));
  }

  const std::string observers = key("observers/");
  std::vector<ObserverReport> reports;
  std::map<std::string, Sighting> sightings;
  std::string conflict;
  bool clash = false;
  for (const etcd::KeyValue& kv : r.ranges[0]) {
    if (kv.key.size() <= observers.size()) continue;
    const std::string name = kv.key.substr(observers.size());
    std::string their_config;
    // Ours are a few KiB at most (verdicts, at most kMaxReportedPages keys): a larger one is not parsed.
    auto report = kv.value.size() <= kMaxReportBytes ? decodeReport(name, kv.value, their_config) : std::nullopt;
    if (!report) {
      logDebug("-observer-report-unreadable", name);
      continue;
    }
    if (name == config_.name && kv.lease != lease_) {
      clash = true;
      conflict = "another aggregator also publishes as observer " + name;
      continue;
    }
    if (std::find(config_.quorum.observers.begin(), config_.quorum.observers.end(), name) ==
        config_.quorum.observers.end()) {
      // Not counted by the tally anyway: an alarm, not a reason to stop (a stray aggregator on the same
      // etcd and cluster name must not block failover).
      if (unlisted_warned_.insert(name).second) {
        logWarn("-observer-unlisted", "observer " + name + " publishes in cluster " + config_.cluster +
                                          " but is not in etcd.observers here: its verdicts are ignored");
      }
    } else if (their_config != fingerprint_ && conflict.empty()) {
      conflict = "observer " + name + " runs another quorum configuration (" +
                 (their_config.empty() ? std::string("none given") : their_config) + "; here: " + fingerprint_ + ")";
    }
    // Fresh when its revision changed since we last looked: timed by our own clock, never by theirs. A
    // report seen for the first time may be old (its observer stopped, its lease alive): not fresh until
    // it changes once.
    const auto last = sightings_.find(name);
    const bool same = last != sightings_.end() && last->second.revision == kv.mod_revision;
    report->heard = same ? last->second.first_seen : last == sightings_.end() ? SteadyTime{} : now;
    report->sighted = last == sightings_.end() ? now : last->second.sighted;
    sightings[name] = {kv.mod_revision, report->heard, report->sighted};
    reports.push_back(std::move(*report));
  }
  sightings_ = std::move(sightings);
  view_.reports = std::move(reports);
  if (conflict != conflict_) {
    if (!conflict.empty())
      logError("-coordination-conflict", conflict + ": this observer does not lead until it is fixed");
    else
      logInfo("+coordination-conflict-cleared", "every observer agrees on the quorum configuration");
  }
  conflict_ = conflict;
  name_clash_ = clash;
  if (!conflict_.empty()) {
    view_.leading = false;
    if (view_.unfit.empty()) view_.unfit = conflict_;
  }

  view_.plan.reset();
  view_.plan_revision = 0;
  view_.plan_unreadable = false;
  if (!r.ranges[2].empty()) {
    view_.plan = decode<SharedPlan>(r.ranges[2].front().value);
    if (view_.plan && view_.plan->id <= 0) view_.plan.reset();
    view_.plan_revision = r.ranges[2].front().mod_revision;
    view_.plan_unreadable = !view_.plan;
    if (!view_.plan)
      logError("-shared-plan-unreadable", "the plan in etcd cannot be read; deciding nothing until it is");
  }
  view_.state.reset();
  view_.state_revision = 0;
  if (!r.ranges[3].empty()) {
    view_.state = decode<SharedState>(r.ranges[3].front().value);
    view_.state_revision = r.ranges[3].front().mod_revision;
  }
}

Result<int64_t> Coordinator::createPlan(int64_t epoch, SharedPlan plan, int64_t floor, int64_t plan_revision,
                                        int64_t state_revision) {
  if (epoch <= 0) return makeError("deposed", "no epoch: this aggregator does not lead");
  auto seq = client_.range(key("plan_seq"));
  if (!seq) return seq.error();
  int64_t last = 0;
  int64_t seq_revision = 0;
  if (!seq.value().empty()) {
    seq_revision = seq.value().front().mod_revision;
    last = std::strtoll(seq.value().front().value.c_str(), nullptr, 10);
  }
  plan.id = std::max(last, floor) + 1;
  plan.epoch = epoch;
  auto r =
      client_.txn({etcd::createRevisionIs(key("leader"), epoch), etcd::modRevisionIs(key("plan_seq"), seq_revision),
                   etcd::modRevisionIs(key("plan"), plan_revision), etcd::modRevisionIs(key("state"), state_revision)},
                  {etcd::put(key("plan_seq"), std::to_string(plan.id)), etcd::put(key("plan"), encode(plan))});
  if (!r) return r.error();
  if (!r.value().succeeded) {
    auto current = currentEpoch();
    if (current && current.value() == epoch)
      return makeError("conflict", "the shared plan or state changed since it was read; deciding again");
    return makeError("deposed", "epoch " + std::to_string(epoch) + " is no longer the leader's");
  }
  return plan.id;
}

Result<void> Coordinator::updatePlan(int64_t epoch, const SharedPlan& plan, const std::optional<SharedState>& state,
                                     int64_t plan_revision, int64_t state_revision) {
  // Epoch 0 would compare "nobody leads" as true: a write without leadership.
  if (epoch <= 0) return makeError("deposed", "no epoch: this aggregator does not lead");
  SharedPlan p = plan;
  p.epoch = epoch;
  std::vector<etcd::Operation> ops = {etcd::put(key("plan"), encode(p))};
  if (state) ops.push_back(etcd::put(key("state"), encode(*state)));
  std::vector<etcd::Compare> compare = {etcd::createRevisionIs(key("leader"), epoch)};
  if (plan_revision >= 0) compare.push_back(etcd::modRevisionIs(key("plan"), plan_revision));
  if (state_revision >= 0) compare.push_back(etcd::modRevisionIs(key("state"), state_revision));
  auto r = client_.txn(compare, ops);
  if (!r) return r.error();
  if (r.value().succeeded) return {};
  if (plan_revision >= 0 || state_revision >= 0) {
    auto current = currentEpoch();
    if (current && current.value() == epoch) return makeError("conflict", "the shared plan or state changed meanwhile");
  }
  return makeError("deposed", "epoch " + std::to_string(epoch) + " is no longer the leader's");
}

Result<Coordinator::SharedRead> Coordinator::readShared() {
  auto r = client_.txn({}, {etcd::get(key("plan")), etcd::get(key("state"))});
  if (!r) return r.error();
  if (r.value().ranges.size() != 2) return makeError("etcd_malformed", "a transaction answer without its reads");
  SharedRead out;
  if (!r.value().ranges[0].empty()) {
    out.plan_revision = r.value().ranges[0].front().mod_revision;
    out.plan = decode<SharedPlan>(r.value().ranges[0].front().value);
    if (!out.plan) return makeError("etcd_malformed", "the shared plan cannot be read");
  }
  if (!r.value().ranges[1].empty()) {
    out.state_revision = r.value().ranges[1].front().mod_revision;
    out.state = decode<SharedState>(r.value().ranges[1].front().value);
    if (!out.state) return makeError("etcd_malformed", "the shared state cannot be read");
  }
  return out;
}

Result<int64_t> Coordinator::currentEpoch() {
  auto r = client_.range(key("leader"));
  if (!r) return r.error();
  return r.value().empty() ? int64_t{0} : r.value().front().create_revision;
}

Result<void> Coordinator::updateState(const SharedState& state, int64_t expected_revision) {
  auto r =
      client_.txn({etcd::modRevisionIs(key("state"), expected_revision)}, {etcd::put(key("state"), encode(state))});
  if (!r) return r.error();
  if (!r.value().succeeded) return makeError("conflict", "the shared state changed meanwhile; try again");
  return {};
}

EpochFence::EpochFence(Coordinator& coordinator, int64_t epoch, SharedPlan plan, FinalState final_state)
    : coordinator_(coordinator), epoch_(epoch), plan_(std::move(plan)), final_state_(std::move(final_state)) {}

Result<void> EpochFence::beforeAttempt(const PlanRecord&, int step, std::chrono::milliseconds bound) {
  if (!coordinator_.leads(epoch_)) {
    // Tell a lost leadership (refused by epoch) from one we merely cannot confirm.
    auto current = coordinator_.currentEpoch();
    if (!current) return makeError("unavailable", current.error().message);
    if (current.value() != epoch_) {
      return makeError("deposed", "epoch " + std::to_string(epoch_) + " has ended; the leader's epoch is now " +
                                      std::to_string(current.value()));
    }
    return makeError("unavailable", "our lease may lapse before the step ends (by our own clock)");
  }
  if (step < 0 || static_cast<size_t>(step) >= plan_.steps.size()) return makeError("unavailable", "no such step");
  plan_.steps[static_cast<size_t>(step)].state = "started";
  plan_.steps[static_cast<size_t>(step)].bound_ms = bound.count();
  if (auto r = coordinator_.updatePlan(epoch_, plan_); !r) return r;
  // The write may have been answered late: still leading by our own clock, or no attempt.
  if (!coordinator_.leads(epoch_)) return makeError("unavailable", "our lease lapsed while the intent was written");
  return {};
}

Result<void> EpochFence::afterStep(const PlanRecord&, int step, bool done) {
  if (step < 0 || static_cast<size_t>(step) >= plan_.steps.size()) return makeError("unavailable", "no such step");
  plan_.steps[static_cast<size_t>(step)].state = done ? "done" : "failed";
  return coordinator_.updatePlan(epoch_, plan_);
}

Result<void> EpochFence::finish(const PlanRecord&, const std::string& outcome) {
  plan_.status = outcome;
  // The end's state is computed from the state as the store holds it now and written only if it is still
  // that one, so a pause set meanwhile on any aggregator is never overwritten; a change between the read
  // and the write is read again.
  constexpr int kAttempts = 3;
  Error last = makeError("conflict", "the shared state kept changing");
  for (int i = 0; i < kAttempts; ++i) {
    auto now = coordinator_.readShared();
    if (!now) return now.error();
    auto r = coordinator_.updatePlan(epoch_, plan_, final_state_(outcome, now.value().state), -1,
                                     now.value().state_revision);
    if (r || r.error().code != "conflict") return r;
    last = r.error();
  }
  return last;
}

SharedPlan sharedPlan(const PlanRecord& p, const std::string& status) {
  SharedPlan s;
  s.id = p.id;
  s.created_ms = p.created_ms;
  s.kind = p.kind;
  s.from = p.from;
  s.to = p.to;
  s.reason = p.reason;
  s.forced = p.forced;
  s.operator_requested = p.operator_requested;
  s.status = status;
  for (const StepRecord& step : p.steps) {
    s.steps.push_back({step.action, step.state == "skipped" ? "pending" : step.state});
  }
  return s;
}

PlanRecord planRecord(const SharedPlan& s) {
  PlanRecord p;
  p.id = s.id;
  p.created_ms = s.created_ms;
  p.kind = s.kind;
  p.from = s.from;
  p.to = s.to;
  p.reason = s.reason;
  p.forced = s.forced;
  p.operator_requested = s.operator_requested;
  p.state = "running";
  for (size_t i = 0; i < s.steps.size(); ++i) {
    StepRecord step;
    step.idx = static_cast<int>(i);
    step.action = s.steps[i].action;
    // done stays done; failed stays failed (a resumed plan never retries a failed step); started stays
    // started (the plan has acted: its gates are not run again); the rest runs.
    const std::string& was = s.steps[i].state;
    step.state = was == "done" || was == "failed" || was == "started" ? was : "pending";
    p.steps.push_back(step);
  }
  return p;
}

}  // namespace hale::aggregator
