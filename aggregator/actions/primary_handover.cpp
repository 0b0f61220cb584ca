#include "primary_handover.h"

namespace hale::aggregator {

std::optional<PrimaryHandover> PrimaryHandover::fromConfig(ConfigTable& t, const ActionEnvironment& env, bool& ok) {
  std::string database;
  std::string node;
  std::string endpoint;
  if (!t.get("lease", database)) {
    for (const char* key : {"lease_node", "lease_endpoint"}) {
      if (t.has(key)) {
        t.error(key, "needs lease");
        ok = false;
      }
    }
    return std::nullopt;
  }
  t.get("lease_node", node);
  t.get("lease_endpoint", endpoint);
  if (!dblease::validName(database)) {
    t.error("lease", "must be 1..64 letters, digits, '-', '_' or '.'");
    ok = false;
    return std::nullopt;
  }
  if (env.etcd == nullptr) {
    t.error("lease", "needs coordination = \"etcd\" and its [etcd] table: the lease lives in etcd");
    ok = false;
    return std::nullopt;
  }
  auto options = etcd::withPassword(*env.etcd);
  if (!options) {
    t.error("lease", options.error().message);
    ok = false;
    return std::nullopt;
  }
  return PrimaryHandover(std::make_shared<etcd::Client>(options.value()), env.etcd->cluster, database, node, endpoint);
}

PrimaryHandover::PrimaryHandover(std::shared_ptr<etcd::Client> client, std::string cluster, std::string database,
                                 std::string node, std::string endpoint)
    : client_(std::move(client)),
      leader_key_("/hale/" + cluster + "/leader"),
      database_(std::move(database)),
      keys_(dblease::keysFor(cluster, database_)),
      node_(std::move(node)),
      endpoint_(std::move(endpoint)) {}

Result<std::optional<dblease::PositionRecord>> PrimaryHandover::lastPosition() const {
  auto kvs = client_->range(keys_.position);
  if (!kvs) return kvs.error();
  if (kvs.value().empty()) return std::optional<dblease::PositionRecord>{};
  auto p = dblease::decodePosition(kvs.value()[0].value);
  if (!p) return p.error();
  return std::optional(p.value());
}

ActionResult PrimaryHandover::claim(const ActionRequest& r) {
  dblease::PrimaryRecord record;
  record.region = r.to;
  record.node = node_;
  record.epoch = r.epoch;
  record.endpoint = endpoint_;
  record.by = "plan " + std::to_string(r.plan_id);
  const std::string who = "database " + database_ + ": ";
  for (;;) {
    // The record as it stands: it must name the region failed over from (or already the target). No
    // record means no agent ever held this database's lease (a different `database` or `[etcd] cluster` on
    // the old primary's agent, or no [check.lease] there), and then a lapsed lease proves nothing.
    auto current = client_->range(keys_.primary);
    if (!current) {
      if (pauseBeforePoll(r, std::chrono::milliseconds{100})) continue;
      return {ActionStatus::retryable, who + "etcd: " + current.error().message};
    }
    int64_t seen_revision = 0;
    if (!current.value().empty()) {
      seen_revision = current.value()[0].mod_revision;
      auto named = dblease::decodePrimary(current.value()[0].value);
      if (named && named.value().region == r.to && (node_.empty() || named.value().node == node_)) {
        return {ActionStatus::applied, who + "primary record already names " + r.to};
      }
      if (!r.forced && (!named || named.value().region != r.from)) {
        return {ActionStatus::permanent,
                who + "refused: the primary record names " +
                    (named ? "region " + named.value().region : "nobody readable (" + named.error().message + ")") +
                    ", not " + r.from + " that this plan fails over from; a forced decision overrides it"};
      }
    } else if (!r.forced) {
      return {ActionStatus::retryable,
              who +
                  "refused: etcd holds no primary record, so no agent ever held this database's lease (check "
                  "the old primary's [check.lease] database and [etcd] cluster); a lapsed lease would prove "
                  "nothing; a forced decision overrides it"};
    }
    record.since_ms = toUnixMillis(r.clock->wallNow());  // when written: the lease was gone by then
    std::vector<etcd::Compare> compare{seen_revision > 0 ? etcd::modRevisionIs(keys_.primary, seen_revision)
                                                         : etcd::createRevisionIs(keys_.primary, 0)};
    if (!r.forced) compare.push_back(etcd::createRevisionIs(keys_.lease, 0));
    if (r.epoch > 0) compare.push_back(etcd::createRevisionIs(leader_key_, r.epoch));
    auto txn = client_->txn(compare, {etcd::put(keys_.primary, dblease::encode(record)), etcd::get(keys_.primary)},
                            {etcd::get(keys_.lease), etcd::get(leader_key_)});
    if (!txn) {
      // An etcd election or a slow member: asked again within the attempt, as a held lease is.
      if (pauseBeforePoll(r, std::chrono::milliseconds{100})) continue;
      return {ActionStatus::retryable, who + "etcd: " + txn.error().message};
    }
    if (txn.value().succeeded) {
      return {ActionStatus::applied, who + "primary record names " + r.to + (node_.empty() ? "" : " (" + node_ + ")") +
                                         (r.forced ? " (forced: the old primary's lease was not waited for)"
                                                   : " after the old primary's lease lapsed")};
    }
    const auto& ranges = txn.value().ranges;
    if (r.epoch > 0 && (ranges.size() < 2 || ranges[1].empty() || ranges[1][0].create_revision != r.epoch)) {
      return {ActionStatus::permanent, who + "this aggregator no longer leads (epoch " + std::to_string(r.epoch) + ")"};
    }
    std::string holder = "another node";
    if (!ranges.empty() && !ranges[0].empty()) {
      if (auto lease = dblease::decodeLease(ranges[0][0].value))
        holder = "node " + lease.value().node + " (region " + lease.value().region + ")";
    }
    if (!pauseBeforePoll(r, std::chrono::milliseconds{100})) {
      return {ActionStatus::retryable, who + "the old primary's lease is still held by " + holder +
                                           "; not promoting before it lapses (its agent fences the database first)"};
    }
  }
}

}  // namespace hale::aggregator
