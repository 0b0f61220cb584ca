#pragma once

// The primary lease of one database, at run time: a renewer thread talks to etcd (take, renew, give back
// the lease; read the primary record) and an enforcer thread applies LeaseKeeper's decisions (fence,
// unfence) through the database's Fencer. Two threads, so an etcd request stuck until its timeout can
// never delay a fence past the lease's validity: the enforcer wakes at that instant on its own.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent_counters.h"
#include "etcd_client.h"
#include "fence_journal.h"
#include "fencer.h"
#include "lease_keeper.h"

namespace hale::agent {

class PrimaryLease {
 public:
  struct Identity {
    std::string node;
    std::string region;
    std::string boot;
  };
  using DbSource = std::function<DbView()>;
  // Tells the health board that this database is fenced (`reason` non-empty) or no longer is ("").
  using FenceMark = std::function<void(const std::string& database, const std::string& reason, bool split_brain)>;

  PrimaryLease(LeaseSettings settings, std::unique_ptr<Fencer> fencer, std::shared_ptr<etcd::Client> etcd,
               const std::string& hale_cluster, Identity me, DbSource db, FenceMark mark, FenceJournal& journal,
               AgentCounters& counters, const Clock& clock);
  ~PrimaryLease();
  PrimaryLease(const PrimaryLease&) = delete;
  PrimaryLease& operator=(const PrimaryLease&) = delete;

  void start();
  // Stops both threads. The lease is left to lapse (not revoked): a restarted agent takes it back.
  void stop();

  // halectl unfence: lifts the fence now and suspends fencing for want of the lease (LeaseKeeper says
  // until when).
  Result<std::string> operatorUnfence(const std::string& by);
  // After a reload: the check may point at another server, which is the one to fence from now on.
  void replaceFencer(std::unique_ptr<Fencer> fencer);
  nlohmann::json status() const;
  const LeaseSettings& settings() const { return settings_; }

 private:
  void renewLoop();
  void enforceLoop();
  StoreRound round(const DbView& db);
  StoreRound::Lease renew(int64_t lease, SteadyTime& sent, std::chrono::milliseconds& granted);
  StoreRound::Lease regrant(StoreRound& out);
  void publishPosition(const DbView& db);
  StoreRound::Lease acquire(const std::optional<etcd::KeyValue>& primary, SteadyTime& sent,
                            std::chrono::milliseconds& granted);
  // The position record to write with a renewal (none unless the database is a writable primary).
  std::vector<etcd::Operation> positionWrite(const DbView& db) const;
  void journal(const std::string& event, FenceReason reason, const std::string& detail);

  const LeaseSettings settings_;
  std::unique_ptr<Fencer> fencer_;
  std::shared_ptr<etcd::Client> etcd_;
  const dblease::Keys keys_;
  const Identity me_;
  DbSource db_;
  FenceMark mark_;
  FenceJournal& journal_;
  AgentCounters& counters_;
  const Clock& clock_;

  std::mutex fence_mu_;  // one fence or unfence at a time, the operator's included
  mutable std::mutex mu_;
  std::condition_variable renew_cv_;
  std::condition_variable enforce_cv_;
  bool stopping_ = false;
  LeaseKeeper keeper_;
  int64_t lease_id_ = 0;   // renewer thread only
  std::string published_;  // the position last written (renewer thread only)
  std::string last_error_;
  std::string fence_error_;
  bool fencing_ = false;  // a fence was decided: the board says so before the database is told

  std::thread renewer_;
  std::thread enforcer_;
};

}  // namespace hale::agent
