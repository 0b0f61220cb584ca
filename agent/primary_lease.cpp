#include "primary_lease.h"

#include "log.h"
#include "thread_name.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

FenceReason reasonFrom(const std::string& s) {
  for (FenceReason r :
       {FenceReason::lease_lost, FenceReason::no_lease, FenceReason::check_failing, FenceReason::split_brain}) {
    if (toString(r) == s) return r;
  }
  return FenceReason::lease_lost;  // an older or unknown reason: still fenced
}

int64_t msBetween(SteadyTime from, SteadyTime to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

}  // namespace

PrimaryLease::PrimaryLease(LeaseSettings settings, std::unique_ptr<Fencer> fencer, std::shared_ptr<etcd::Client> etcd,
                           const std::string& hale_cluster, Identity me, DbSource db, FenceMark mark,
                           FenceJournal& journal, AgentCounters& counters, const Clock& clock)
    : settings_(std::move(settings)),
      fencer_(std::move(fencer)),
      etcd_(std::move(etcd)),
      keys_(dblease::keysFor(hale_cluster, settings_.database)),
      me_(std::move(me)),
      db_(std::move(db)),
      mark_(std::move(mark)),
      journal_(journal),
      counters_(counters),
      clock_(clock),
      keeper_(settings_, me_.node, me_.region, clock.steadyNow()) {
  std::string reason;
  if (journal_.leftFenced(settings_.database, reason)) {
    keeper_ = LeaseKeeper(settings_, me_.node, me_.region, clock.steadyNow(), true, reasonFrom(reason));
  }
}

PrimaryLease::~PrimaryLease() { stop(); }

void PrimaryLease::start() {
  bool fenced = false;
  FenceReason reason = FenceReason::none;
  {
    std::lock_guard lock(mu_);
    fenced = keeper_.isFenced();
    reason = keeper_.fenceReason();
  }
  if (fenced) {
    logWarn("+fenced", "database " + settings_.database + " was left fenced (" + std::string(toString(reason)) +
                           ") by an earlier run; it stays so until this node holds the lease again");
    mark_(settings_.database, std::string(toString(reason)), reason == FenceReason::split_brain);
  }
  renewer_ = std::thread([this] { renewLoop(); });
  enforcer_ = std::thread([this] { enforceLoop(); });
}

void PrimaryLease::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  renew_cv_.notify_all();
  enforce_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (enforcer_.joinable()) enforcer_.join();
}

void PrimaryLease::renewLoop() {
  nameThisThread("lease-renew");
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const DbView db = db_();
    const SteadyTime started = clock_.steadyNow();
    StoreRound r = round(db);
    r.started = started;
    r.ended = clock_.steadyNow();
    milliseconds wait{0};
    {
      std::lock_guard lock(mu_);
      keeper_.roundEnded(r);
      wait = keeper_.renewEvery();
      // Not holding: ask again sooner, so a freshly promoted primary takes its lease quickly.
      if (!keeper_.holdsValid(clock_.steadyNow())) wait = std::min(wait, milliseconds{250});
    }
    enforce_cv_.notify_all();
    std::unique_lock lock(mu_);
    renew_cv_.wait_for(lock, wait, [this] { return stopping_; });
    if (stopping_) return;
  }
}

StoreRound PrimaryLease::round(const DbView& db) {
  StoreRound out;
  {
    std::lock_guard lock(mu_);
    out.wanted = keeper_.wantsLease(db);
  }
  auto read = etcd_->txn({}, {etcd::get(keys_.primary), etcd::get(keys_.lease)});
  if (!read || read.value().ranges.size() != 2) {
    counters_.lease_etcd_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    last_error_ = read ? "etcd answered without the ranges asked for" : read.error().message;
    return out;
  }
  out.answered = true;
  const auto& ranges = read.value().ranges;
  std::optional<etcd::KeyValue> primary_kv;
  if (!ranges[0].empty()) primary_kv = ranges[0][0];
  std::optional<etcd::KeyValue> lease_kv;
  if (!ranges[1].empty()) lease_kv = ranges[1][0];

  std::string problem;
  if (primary_kv) {
    if (auto p = dblease::decodePrimary(primary_kv->value)) {
      out.primary = p.value();
    } else {
      // An unreadable record names nobody: this node may not write on its strength.
      out.primary = dblease::PrimaryRecord{"(unreadable record)", "", 0, 0, ""};
      problem = p.error().message;
    }
  }
  bool mine_by_name = false;
  if (lease_kv) {
    if (auto l = dblease::decodeLease(lease_kv->value)) {
      mine_by_name = l.value().node == me_.node && l.value().region == me_.region;
      out.holder = holderName(l.value().node, l.value().region);
    } else {
      out.holder = "(unreadable lease record)";
    }
  }
  const bool named = !out.primary || out.primary->names(me_.region, me_.node);
  bool want = false;
  bool may_release = false;
  {
    std::lock_guard lock(mu_);
    want = named && keeper_.wantsLease(db);
    may_release = keeper_.mayRelease(db);
    last_error_ = problem;
  }
  const bool ours = lease_kv && ((lease_id_ != 0 && lease_kv->lease == lease_id_) || mine_by_name);
  out.other_holder = lease_kv && !ours;
  if (want) {
    if (ours) {
      lease_id_ = lease_kv->lease;  // adopts the lease of this node's previous run
      out.lease = renew(lease_id_, out.sent, out.granted);
      // An earlier run's lease with a shorter TTL than configured (the ttl was raised): moved onto a fresh
      // lease of the configured TTL in one transaction, so it never lapses in between.
      if (out.lease == StoreRound::Lease::renewed && out.granted < settings_.ttl) out.lease = regrant(out);
      if (out.lease == StoreRound::Lease::renewed) publishPosition(db);
    } else if (lease_kv) {
      out.lease = StoreRound::Lease::not_held;
    } else {
      out.lease = acquire(primary_kv, out.sent, out.granted);
      // Not taken although etcd answered: another node took the key, or the record moved since our read.
      out.other_holder = out.lease == StoreRound::Lease::not_held;
      if (out.lease == StoreRound::Lease::renewed) {
        published_.clear();
        publishPosition(db);
      }
    }
  } else {
    // Not renewed any more: it lapses, or goes at once when no write can land here.
    if (ours && may_release) {
      if (etcd_->revoke(lease_kv->lease)) logInfo("-lease", "database " + settings_.database + ": lease given back");
      lease_id_ = 0;
    }
    out.lease = StoreRound::Lease::not_held;
  }
  if (out.lease == StoreRound::Lease::renewed) out.holder = holderName(me_.node, me_.region);
  return out;
}

StoreRound::Lease PrimaryLease::regrant(StoreRound& out) {
  const SteadyTime sent = clock_.steadyNow();
  auto grant = etcd_->grant(settings_.ttl);
  if (!grant) return StoreRound::Lease::renewed;  // the old lease stands; validity counts its TTL
  const int64_t fresh = grant.value().id;
  etcd::Compare attached{etcd::Compare::Target::lease, etcd::Compare::Op::equal, keys_.lease, lease_id_, ""};
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  auto moved = etcd_->txn(
      {attached},
      {etcd::put(keys_.lease, dblease::encode(dblease::LeaseRecord{me_.node, me_.region, me_.boot, now_ms}), fresh)});
  if (!moved || !moved.value().succeeded) {
    (void)etcd_->revoke(fresh);
    return moved ? StoreRound::Lease::not_held : StoreRound::Lease::renewed;
  }
  (void)etcd_->revoke(lease_id_);
  lease_id_ = fresh;
  out.sent = sent;
  out.granted = grant.value().ttl;
  logInfo("+lease", "database " + settings_.database + ": moved onto a lease of the configured ttl");
  return StoreRound::Lease::renewed;
}

void PrimaryLease::publishPosition(const DbView& db) {
  // Best effort and only when it moved: a failed write (etcd's space alarm, a role without write access to
  // the key) never counts against the renewal, and an idle primary writes nothing.
  if (db.position == published_) return;
  std::vector<etcd::Operation> write = positionWrite(db);
  if (write.empty()) return;
  etcd::Compare attached{etcd::Compare::Target::lease, etcd::Compare::Op::equal, keys_.lease, lease_id_, ""};
  auto r = etcd_->txn({attached}, write);
  if (r && r.value().succeeded) {
    published_ = db.position;
  } else {
    std::lock_guard lock(mu_);
    last_error_ = "position: " + (r ? std::string("the lease key moved") : r.error().message);
  }
}

std::vector<etcd::Operation> PrimaryLease::positionWrite(const DbView& db) const {
  if (db.role != DbRole::writable_primary || !dblease::validLsn(db.position)) return {};
  const auto age = clock_.steadyNow() - db.answered_at;
  const int64_t at_ms = toUnixMillis(clock_.wallNow()) - std::chrono::duration_cast<milliseconds>(age).count();
  return {
      etcd::put(keys_.position, dblease::encode(dblease::PositionRecord{db.position, at_ms, me_.node, me_.region}))};
}

StoreRound::Lease PrimaryLease::renew(int64_t lease, SteadyTime& sent, milliseconds& granted) {
  sent = clock_.steadyNow();
  auto left = etcd_->keepAlive(lease);
  if (!left) {
    counters_.lease_etcd_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    last_error_ = "renewal: " + left.error().message;
    return StoreRound::Lease::unknown;
  }
  if (left.value().count() <= 0) {
    lease_id_ = 0;
    return StoreRound::Lease::not_held;
  }
  granted = left.value();
  // Renewed, but is the key still on it? Deleted or replaced since this round read it (by hand, say), the
  // renewal proves nothing: a promotion may already have claimed.
  etcd::Compare attached{etcd::Compare::Target::lease, etcd::Compare::Op::equal, keys_.lease, lease, ""};
  auto confirm = etcd_->txn({attached}, {});
  if (!confirm) {
    counters_.lease_etcd_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    last_error_ = "renewal: " + confirm.error().message;
    return StoreRound::Lease::unknown;
  }
  return confirm.value().succeeded ? StoreRound::Lease::renewed : StoreRound::Lease::not_held;
}

StoreRound::Lease PrimaryLease::acquire(const std::optional<etcd::KeyValue>& primary, SteadyTime& sent,
                                        milliseconds& granted) {
  // A fresh etcd lease for each try: its TTL counts from the grant, which is when validity starts.
  sent = clock_.steadyNow();
  auto grant = etcd_->grant(settings_.ttl);
  if (!grant) {
    counters_.lease_etcd_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    last_error_ = "grant: " + grant.error().message;
    return StoreRound::Lease::unknown;
  }
  const int64_t id = grant.value().id;
  granted = grant.value().ttl;
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  std::vector<etcd::Compare> compare{etcd::createRevisionIs(keys_.lease, 0)};
  std::vector<etcd::Operation> success{
      etcd::put(keys_.lease, dblease::encode(dblease::LeaseRecord{me_.node, me_.region, me_.boot, now_ms}), id)};
  if (primary) {
    compare.push_back(etcd::modRevisionIs(keys_.primary, primary->mod_revision));
  } else {
    // No record yet: the first writable primary names itself (a new cluster, or one set up by hand).
    compare.push_back(etcd::createRevisionIs(keys_.primary, 0));
    success.push_back(
        etcd::put(keys_.primary, dblease::encode(dblease::PrimaryRecord{me_.region, me_.node, 0, now_ms,
                                                                        "agent " + me_.node, settings_.endpoint})));
  }
  auto txn = etcd_->txn(compare, success);
  if (txn && txn.value().succeeded) {
    lease_id_ = id;
    logInfo("+lease", "database " + settings_.database + ": lease taken" + (primary ? "" : ", primary record created"));
    return StoreRound::Lease::renewed;
  }
  (void)etcd_->revoke(id);
  if (!txn) {
    counters_.lease_etcd_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    last_error_ = "take: " + txn.error().message;
    return StoreRound::Lease::unknown;
  }
  return StoreRound::Lease::not_held;  // someone else was faster, or the record moved
}

void PrimaryLease::enforceLoop() {
  nameThisThread("lease-enforce");
  bool split_reported = false;
  std::string split_brain_detail;
  int fence_error_streak = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const DbView db = db_();
    std::unique_lock fence_lock(fence_mu_);
    SteadyTime now = clock_.steadyNow();
    LeaseKeeper::Step step;
    bool clear_mark = false;
    {
      std::lock_guard lock(mu_);
      step = keeper_.decide(db, now);
      if (step.action == LeaseKeeper::Action::none && fencing_ && !keeper_.isFenced()) {
        fencing_ = false;  // decided, then no longer needed before it was done (the lease came back)
        clear_mark = true;
      }
      if (!keeper_.splitBrain(db)) split_reported = false;
    }
    if (clear_mark) {
      mark_(settings_.database, "", false);
      // Close the journaled intent, or a restart would start fenced for a fence that never happened.
      if (fence_error_streak > 0) journal("-fenced", FenceReason::none, "fence abandoned: no longer needed");
      fence_error_streak = 0;
    }
    if (step.action == LeaseKeeper::Action::fence) {
      const std::string reason(toString(step.reason));
      {
        std::lock_guard lock(mu_);
        fencing_ = true;
      }
      mark_(settings_.database, reason, step.reason == FenceReason::split_brain);  // drain first
      if (step.reason == FenceReason::split_brain && !split_reported) {
        split_reported = true;
        counters_.split_brains.fetch_add(1, std::memory_order_relaxed);
        std::string named;
        {
          std::lock_guard lock(mu_);
          if (keeper_.primary()) named = keeper_.primary()->region;
        }
        split_brain_detail = "database " + settings_.database + " is writable here while etcd names region " + named +
                             " its primary; fenced at once";
        logError("+split-brain", split_brain_detail);
      }
      // The intent first, so a crash between the two never forgets a fence (at start the agent keeps it
      // or, the database found writable, applies it again). Not for a split brain: nothing may delay it.
      const bool intent = step.reason != FenceReason::split_brain && fence_error_streak == 0;
      if (intent) journal("+fencing", step.reason, "about to fence");
      auto r = fencer_->fence(now + settings_.fence_timeout, clock_);
      if (!split_brain_detail.empty()) {
        journal("+split-brain", step.reason, split_brain_detail);
        split_brain_detail.clear();
      }
      if (r) {
        {
          std::lock_guard lock(mu_);
          keeper_.fenced(step.reason, clock_.steadyNow());
          fence_error_.clear();
        }
        fence_error_streak = 0;
        counters_.fences.fetch_add(1, std::memory_order_relaxed);
        journal("+fenced", step.reason, r.value());
        logWarn("+fenced", "database " + settings_.database + " (" + reason + "): " + r.value());
      } else {
        counters_.fence_failures.fetch_add(1, std::memory_order_relaxed);
        ++fence_error_streak;
        bool first = false;
        {
          std::lock_guard lock(mu_);
          first = fence_error_.empty();
          fence_error_ = r.error().message;
        }
        if (first) {
          journal("-fence-failed", step.reason, r.error().message);
          logError("-fence-failed",
                   "database " + settings_.database + " (" + reason + "): " + r.error().message + "; retrying");
        }
      }
    } else if (step.action == LeaseKeeper::Action::unfence) {
      auto r = fencer_->unfence(now + settings_.fence_timeout, clock_);
      if (r) {
        {
          std::lock_guard lock(mu_);
          keeper_.unfenced(clock_.steadyNow());
          fencing_ = false;
          fence_error_.clear();
        }
        mark_(settings_.database, "", false);
        counters_.unfences.fetch_add(1, std::memory_order_relaxed);
        journal("-fenced", FenceReason::none, "the lease is held again: " + r.value());
        logInfo("-fenced", "database " + settings_.database + ": lease held again, " + r.value());
      } else {
        std::lock_guard lock(mu_);
        fence_error_ = "unfence: " + r.error().message;
      }
    }
    fence_lock.unlock();
    // Wake at the lease's validity end exactly, else often enough to see the check's answers.
    std::unique_lock lock(mu_);
    now = clock_.steadyNow();
    SteadyTime wake = now + milliseconds{step.action == LeaseKeeper::Action::none ? 100 : 250};
    if (keeper_.holdsValid(now)) wake = std::min(wake, keeper_.validUntil());
    enforce_cv_.wait_for(lock, wake - now, [this] { return stopping_; });
  }
}

void PrimaryLease::replaceFencer(std::unique_ptr<Fencer> fencer) {
  std::lock_guard fence_lock(fence_mu_);
  fencer_ = std::move(fencer);
}

Result<std::string> PrimaryLease::operatorUnfence(const std::string& by) {
  std::lock_guard fence_lock(fence_mu_);
  {
    std::lock_guard lock(mu_);
    const auto& p = keeper_.primary();
    if (keeper_.isFenced() && keeper_.fenceReason() == FenceReason::split_brain &&
        !(p && p->names(me_.region, me_.node))) {
      return makeError("refused", "database " + settings_.database +
                                      " was fenced because etcd named another primary (split brain); unfencing "
                                      "would make two writable primaries; move the primary record back first");
    }
    if (p && !p->names(me_.region, me_.node)) {
      return makeError("refused", "etcd names region " + p->region + (p->node.empty() ? "" : " (" + p->node + ")") +
                                      " the primary of database " + settings_.database +
                                      ": unfencing here would make two writable primaries; move the primary record "
                                      "back first (a failback)");
    }
  }
  auto r = fencer_->unfence(clock_.steadyNow() + settings_.fence_timeout, clock_);
  if (!r) return r.error();
  {
    std::lock_guard lock(mu_);
    keeper_.operatorUnfenced(clock_.steadyNow());
    fencing_ = false;
    fence_error_.clear();
  }
  mark_(settings_.database, "", false);
  counters_.unfences.fetch_add(1, std::memory_order_relaxed);
  const std::string detail = r.value() + " by " + by +
                             "; fencing for want of the lease suspended until the lease is held again, another node "
                             "holds it, or etcd has answered for ttl - margin without it";
  journal("-fenced-by-operator", FenceReason::none, detail);
  logWarn("-fenced-by-operator", "database " + settings_.database + ": " + detail);
  return r.value();
}

void PrimaryLease::journal(const std::string& event, FenceReason reason, const std::string& detail) {
  const FenceEntry e{toUnixMillis(clock_.wallNow()), event, settings_.database,
                     reason == FenceReason::none ? "" : std::string(toString(reason)), detail};
  if (auto r = journal_.append(e); !r) logError("-journal-failed", r.error().message + " (" + event + ")");
}

nlohmann::json PrimaryLease::status() const {
  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  nlohmann::json primary = nullptr;
  if (const auto& p = keeper_.primary()) {
    primary = {{"region", p->region},     {"node", p->node}, {"epoch", p->epoch},
               {"since_ms", p->since_ms}, {"by", p->by},     {"endpoint", p->endpoint}};
  }
  const bool valid = keeper_.holdsValid(now);
  return {{"database", settings_.database},
          {"ttl_ms", settings_.ttl.count()},
          {"margin_ms", settings_.margin.count()},
          {"holding", valid},
          {"valid_for_ms", valid ? msBetween(now, keeper_.validUntil()) : 0},
          {"holder", keeper_.holder()},
          {"primary", primary},
          {"fenced", keeper_.isFenced() || fencing_},
          {"fence_reason", keeper_.isFenced() ? std::string(toString(keeper_.fenceReason())) : ""},
          {"fence_confirmed", keeper_.isFenced()},
          {"fence_error", fence_error_},
          {"suspended", keeper_.suspended()},
          {"etcd_error", last_error_}};
}

}  // namespace hale::agent
