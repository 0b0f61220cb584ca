#pragma once

// The promotion's side of the primary lease (common/db_lease.h). Before a promote action makes its standby
// writable, the old primary's lease must have lapsed (its agent fenced its database before that, or could
// not reach etcd to say otherwise), and the primary record must name the new region. Both in one
// transaction that finds no lease, so an old primary coming back later can never take the lease again. The
// record is written before the promotion, not after: in between, an old primary back in touch with etcd
// would otherwise find itself still named and retake the lease.
//
// Keys of a promote action:
//   lease = "main"           the database's name, as in the agents' [check.lease] database
//   lease_node = "db-us-1"   optional: the node whose agent will hold the lease (default: any node of the
//                            target region)
//   lease_endpoint = "db.us.example:5432"   optional: how clients reach the new primary, for the record

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "action.h"
#include "action_registry.h"
#include "db_lease.h"
#include "etcd_client.h"

namespace hale::aggregator {

class PrimaryHandover {
 public:
  // Reads `lease` and `lease_node`; nullopt when `lease` is absent. Problems are recorded in `t` and
  // clear `ok`.
  static std::optional<PrimaryHandover> fromConfig(ConfigTable& t, const ActionEnvironment& env, bool& ok);

  // Waits within the attempt for the old primary's lease to lapse (not when forced: the operator accepts
  // the risk, and the old primary's agent fences itself once it reads the new record), then names `r.to`
  // the primary under the request's epoch, in a transaction that also compares the record it read. The
  // record must name `r.from` (or already `r.to`): none at all means no agent ever held the lease (a
  // misconfiguration: retryable, refused), another region a decision on a stale view (permanent); forced
  // decisions override both. applied: named (or already was); retryable: the lease is still held, or etcd
  // could not be asked, until the attempt's deadline; permanent: this aggregator no longer leads.
  // `before_move` runs once the lease is gone, just before the record moves (the promotion's RPO gate
  // against the old primary's final position); the move then also compares that position's revision.
  ActionResult claim(const ActionRequest& r, const std::function<ActionResult()>& before_move = {});
  // What claim() would refuse at once, without waiting for the lease: a record that does not allow this
  // plan, none at all, or a deposed aggregator. Asked before the old primary is touched.
  ActionResult precheck(const ActionRequest& r) const;
  // The old primary's last known flushed position, as its agent published it (nullopt: none published).
  Result<std::optional<dblease::PositionRecord>> lastPosition() const;

 private:
  PrimaryHandover(std::shared_ptr<etcd::Client> client, const std::string& cluster, std::string database,
                  std::string node, std::string endpoint);

  struct Seen {
    ActionResult verdict{ActionStatus::applied, ""};
    bool unanswered = false;  // etcd did not answer: ask again within the attempt
    bool already = false;     // the record names the target already
    bool lease_held = false;
    std::string holder;
    int64_t record_revision = 0;
    int64_t position_revision = 0;
  };
  Seen look(const ActionRequest& r) const;

  std::shared_ptr<etcd::Client> client_;
  std::string leader_key_;  // the aggregators' election key: its create revision is the epoch
  std::string database_;
  dblease::Keys keys_;
  std::string node_;
  std::string endpoint_;
};

}  // namespace hale::aggregator
