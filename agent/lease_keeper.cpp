#include "lease_keeper.h"

namespace hale::agent {

std::string_view toString(DbRole r) {
  switch (r) {
    case DbRole::none: return "unknown";
    case DbRole::standby: return "standby";
    case DbRole::read_only_primary: return "read-only primary";
    case DbRole::writable_primary: return "writable primary";
  }
  return "unknown";
}

std::string holderName(std::string_view node, std::string_view region) {
  return std::string(node) + " (" + std::string(region) + ")";
}

std::string_view toString(FenceReason r) {
  switch (r) {
    case FenceReason::none: return "none";
    case FenceReason::lease_lost: return "lease_lost";
    case FenceReason::no_lease: return "no_lease";
    case FenceReason::check_failing: return "check_failing";
    case FenceReason::split_brain: return "split_brain";
  }
  return "none";
}

LeaseKeeper::LeaseKeeper(LeaseSettings settings, std::string node, std::string region, SteadyTime started, bool fenced,
                         FenceReason reason)
    : settings_(std::move(settings)),
      node_(std::move(node)),
      region_(std::move(region)),
      started_(started),
      ttl_(settings_.ttl),
      fenced_(fenced),
      reason_(fenced ? reason : FenceReason::none),
      fenced_at_(started) {}

DbRole LeaseKeeper::roleOf(const DbView& db) const {
  if (db.role == DbRole::read_only_primary && !fenced_ && db.answered_at <= unfenced_at_ &&
      unfenced_at_ != SteadyTime{})
    return DbRole::writable_primary;
  return db.role;
}

bool LeaseKeeper::splitBrain(const DbView& db) const {
  // Only on a record read after the database became writable: a standby just promoted finds the record
  // that named the old primary in the round before the promotion moved it.
  return roleOf(db) == DbRole::writable_primary && primary_ && !primary_->names(region_, node_) &&
         primary_read_at_ > db.role_since;
}

bool LeaseKeeper::wantsLease(const DbView& db) const {
  if (db.failing || (primary_ && !primary_->names(region_, node_))) return false;
  const DbRole role = roleOf(db);
  return role == DbRole::writable_primary || (role == DbRole::read_only_primary && fenced_);
}

bool LeaseKeeper::mayRelease(const DbView& db) const {
  // A standby, or a read-only primary (after our own fence, answered since it): no write can land here.
  // A read-only primary fenced by someone else (a switchover's promotion) gives the lease back at once; if
  // it turned writable again, the rules fence it for want of the lease.
  const DbRole role = roleOf(db);
  if (role == DbRole::standby) return true;
  return role == DbRole::read_only_primary && (!fenced_ || db.answered_at > fenced_at_);
}

LeaseKeeper::Step LeaseKeeper::decide(const DbView& db, SteadyTime now) const {
  const bool writable = roleOf(db) == DbRole::writable_primary;
  // A fence of ours stands until the check has answered since: its earlier answers predate it. A
  // writable answer after the fence means someone lifted it outside hale, so the rules apply again.
  const bool fence_stands = fenced_ && !(writable && db.answered_at > fenced_at_);
  if (writable && !fence_stands) {
    if (splitBrain(db)) return {Action::fence, FenceReason::split_brain};  // never suspended
    if (suspended_) return {};
    if (db.failing) return {Action::fence, FenceReason::check_failing};
    if (holdsValid(now)) return {};
    // Since the agent started or the database became writable, one round that asks for the lease, up to
    // ttl - margin.
    const SteadyTime since = std::max(started_, db.role_since);
    if (!ever_held_ && last_wanted_round_ < since && now < since + settings_.ttl - settings_.margin) return {};
    return {Action::fence, ever_held_ ? FenceReason::lease_lost : FenceReason::no_lease};
  }
  if (fenced_ && db.role == DbRole::read_only_primary && db.answered_at > fenced_at_ && !db.failing &&
      holdsValid(now) && primary_ && primary_->names(region_, node_)) {
    return {Action::unfence, FenceReason::none};
  }
  return {};
}

void LeaseKeeper::roundEnded(const StoreRound& round) {
  if (round.wanted) last_wanted_round_ = std::max(last_wanted_round_, round.ended);
  if (!round.answered) return;  // what etcd said before still stands; the lease runs out on its own clock
  if (suspended_ && round.started > suspended_at_) endSuspensionOn(round);
  primary_ = round.primary;
  primary_read_at_ = round.started;
  holder_ = round.holder;
  switch (round.lease) {
    case StoreRound::Lease::renewed:
      holding_ = true;
      ever_held_ = true;
      renewed_sent_ = round.sent;
      ttl_ = round.granted.count() > 0 ? std::min(settings_.ttl, round.granted) : settings_.ttl;
      break;
    case StoreRound::Lease::not_held: holding_ = false; break;
    case StoreRound::Lease::unknown: break;
  }
}

void LeaseKeeper::endSuspensionOn(const StoreRound& round) {
  // etcd answers a round started after the operator's unfence. Ending the suspension on that alone fenced
  // the database a second time whenever our old lease had lapsed while etcd was gone (the round that finds
  // it lapsed is the one before the round that takes a fresh one). So it ends when the lease is held
  // again, at once when another node holds it, and otherwise ttl - margin after etcd first answered: the
  // same grace a start gets.
  if (round.lease == StoreRound::Lease::renewed || round.other_holder) {
    suspended_ = false;
    return;
  }
  if (!suspension_answered_at_) suspension_answered_at_ = round.ended;
  if (round.ended >= *suspension_answered_at_ + settings_.ttl - settings_.margin) suspended_ = false;
}

void LeaseKeeper::fenced(FenceReason reason, SteadyTime now) {
  fenced_ = true;
  reason_ = reason;
  fenced_at_ = now;
}

void LeaseKeeper::unfenced(SteadyTime now) {
  fenced_ = false;
  reason_ = FenceReason::none;
  unfenced_at_ = now;
}

void LeaseKeeper::operatorUnfenced(SteadyTime now) {
  unfenced(now);
  suspended_ = true;
  suspended_at_ = now;
  suspension_answered_at_.reset();
}

}  // namespace hale::agent
