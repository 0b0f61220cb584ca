#pragma once

// The rules of the primary lease on the agent's side (README "The primary lease"), pure: no I/O, no clock
// reads, no threads; primary_lease.h feeds it what the database check and etcd said, and carries out
// what it decides.
//
// The database may take writes only while this agent holds the lease and its last successful renewal
// was sent less than `ttl - margin` ago, by this machine's monotonic clock. etcd drops the key no sooner
// than `ttl` after it received that renewal, so the database is fenced at least `margin` before a standby
// can be promoted, as long as the two clocks' rates differ by less than margin/ttl (1 s in 3 s: 33 %).
//
//   fence      the database is a writable primary (as last answered) and either the lease is not held
//              valid, or its check fails (it may be writable without our knowing), or the primary record
//              in etcd, read since the database became writable, names another node (split brain: at
//              once, even with a valid lease).
//   unfence    only a fence this agent made, and only when the lease is held again, the record names this
//              node, and the check has answered "read-only primary" since the fence.
//   operator   `halectl unfence` lifts the fence and suspends fencing for want of a lease or for a failing
//              check (etcd gone for good, say) until, judged at the end of each round started after it,
//              the lease is held again, or another node holds the key (or our take lost a race), or etcd
//              has answered for ttl - margin without the lease being taken. "Answered" means the round's
//              read succeeded: an etcd that only errs holds the suspension as one that is gone does. A
//              split brain is never suspended. Loud in status, journaled.
//   start-up   until this agent first holds the lease: no fence for want of it before an etcd round that
//              asked for it has ended since the agent started or the database became writable (a standby
//              just promoted), or ttl - margin after that, whichever comes first: a restarted agent takes
//              its lease back, a promoted standby takes its lease, instead of fencing. Once a lease was
//              held, its validity alone counts.
//   stale      a read-only answer from before our own unfence counts as writable: the database is
//              writable again, whatever the check said before.
//   etcd's TTL validity counts the shorter of the configured ttl and the TTL etcd reports for the lease
//              (an adopted lease of an earlier run may have another).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "clock.h"
#include "db_lease.h"

namespace hale::agent {

struct LeaseSettings {
  std::string database;  // the cluster's name in etcd (dblease::keysFor)
  std::string endpoint;  // optional: how clients reach this database, for the primary record
  std::chrono::milliseconds ttl{3000};
  std::chrono::milliseconds margin{1000};
  std::chrono::milliseconds fence_timeout{2000};
  std::vector<std::string> fence_command;  // instead of the check's built-in fence
  std::vector<std::string> unfence_command;
};

enum class FenceReason { none, lease_lost, no_lease, check_failing, split_brain };
std::string_view toString(FenceReason r);

// How a lease holder is named in status and in StoreRound::holder.
std::string holderName(std::string_view node, std::string_view region);

// What the database check last said.
struct DbView {
  DbRole role = DbRole::none;  // the last answer's role; none before any
  SteadyTime answered_at{};    // when that answer came
  bool failing = false;        // the check's damped status is fail (or stale)
  SteadyTime role_since{};     // when the check first answered this role (since its previous one)
  std::string position;        // a writable primary's flushed WAL position as of answered_at ("" unknown)
};

// What the last etcd round found.
struct StoreRound {
  enum class Lease {
    renewed,   // the lease key is ours and our etcd lease was alive when `sent`
    not_held,  // it is not ours (or we stopped renewing it)
    unknown,   // the renewal got no answer: the last renewal's validity runs out on its own
  };
  bool wanted = false;    // the lease was asked for (or renewed) in this round
  bool answered = false;  // false: etcd could not be read at all; nothing below is known
  std::optional<dblease::PrimaryRecord> primary;
  Lease lease = Lease::unknown;
  SteadyTime sent{};                     // with renewed: when the request that proved it was sent
  std::chrono::milliseconds granted{0};  // with renewed: the TTL etcd reports for the lease (0: unknown)
  SteadyTime started{};                  // when the round started
  SteadyTime ended{};                    // when the round ended
  std::string holder;                    // who holds the lease key (holderName; "" none), for status
  // The lease key is another node's (or unreadable), or our take of a free key lost a race: someone else
  // may be becoming the primary.
  bool other_holder = false;
};

class LeaseKeeper {
 public:
  // `fenced` / `reason`: the local journal's last word on this database (a fence survives restarts).
  LeaseKeeper(LeaseSettings settings, std::string node, std::string region, SteadyTime started, bool fenced = false,
              FenceReason reason = FenceReason::none);

  enum class Action { none, fence, unfence };
  struct Step {
    Action action = Action::none;
    FenceReason reason = FenceReason::none;
  };
  Step decide(const DbView& db, SteadyTime now) const;

  // Whether etcd should be asked for the lease (or to renew it): the database is a writable primary, or a
  // read-only one this agent fenced, and its check does not fail.
  bool wantsLease(const DbView& db) const;
  // The lease may be given back at once (revoked) rather than left to lapse: the database cannot take writes
  // (a standby, or a read-only primary; after a fence of ours, answered since it).
  bool mayRelease(const DbView& db) const;

  void roundEnded(const StoreRound& round);
  void fenced(FenceReason reason, SteadyTime now);
  void unfenced(SteadyTime now);
  void operatorUnfenced(SteadyTime now);

  bool holdsValid(SteadyTime now) const { return holding_ && now < validUntil(); }
  SteadyTime validUntil() const { return renewed_sent_ + ttl_ - settings_.margin; }
  std::chrono::milliseconds renewEvery() const { return ttl_ / 3; }
  // The role to judge by: a read-only answer from before our own unfence counts as writable.
  DbRole roleOf(const DbView& db) const;
  bool isFenced() const { return fenced_; }
  FenceReason fenceReason() const { return reason_; }
  bool suspended() const { return suspended_; }
  bool splitBrain(const DbView& db) const;
  const std::optional<dblease::PrimaryRecord>& primary() const { return primary_; }
  const std::string& holder() const { return holder_; }
  const LeaseSettings& settings() const { return settings_; }

 private:
  LeaseSettings settings_;
  std::string node_;
  std::string region_;
  SteadyTime started_;
  SteadyTime last_wanted_round_{};  // when the last round that asked for the lease ended
  bool ever_held_ = false;
  bool holding_ = false;
  SteadyTime renewed_sent_{};
  std::chrono::milliseconds ttl_;  // the shorter of the configured and etcd's
  SteadyTime unfenced_at_{};
  SteadyTime suspended_at_{};
  std::optional<dblease::PrimaryRecord> primary_;
  SteadyTime primary_read_at_{};  // when the round that read primary_ started
  std::string holder_;
  bool fenced_ = false;
  FenceReason reason_ = FenceReason::none;
  SteadyTime fenced_at_{};
  bool suspended_ = false;
  std::optional<SteadyTime> suspension_answered_at_;  // when etcd first answered during the suspension

  void endSuspensionOn(const StoreRound& round);
};

}  // namespace hale::agent
