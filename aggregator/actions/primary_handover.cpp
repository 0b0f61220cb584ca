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

PrimaryHandover::PrimaryHandover(std::shared_ptr<etcd::Client> client, const std::string& cluster, std::string database,
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

PrimaryHandover::Seen PrimaryHandover::look(const ActionRequest& r) const {
  Seen seen;
  const std::string who = "database " + database_ + ": ";
  auto read = client_->txn(
      {}, {etcd::get(keys_.primary), etcd::get(keys_.lease), etcd::get(keys_.position), etcd::get(leader_key_)});
  if (!read || read.value().ranges.size() != 4) {
    seen.unanswered = true;
    seen.verdict = {ActionStatus::retryable, who + "etcd: " + (read ? "unexpected answer" : read.error().message)};
    return seen;
  }
  const auto& ranges = read.value().ranges;
  if (r.epoch > 0 && (ranges[3].empty() || ranges[3][0].create_revision != r.epoch)) {
    seen.verdict = {ActionStatus::permanent,
                    who + "this aggregator no longer leads (epoch " + std::to_string(r.epoch) + ")"};
    return seen;
  }
  if (!ranges[2].empty()) seen.position_revision = ranges[2][0].mod_revision;
  if (!ranges[1].empty()) {
    seen.lease_held = true;
    seen.holder = "another node";
    if (auto lease = dblease::decodeLease(ranges[1][0].value))
      seen.holder = "node " + lease.value().node + " (region " + lease.value().region + ")";
  }
  // The record must name the region failed over from (or already the target). No record means no agent
  // ever held this database's lease (a different `database` or `[etcd] cluster` on the old primary's
  // agent, or no [check.lease] there), and then a lapsed lease proves nothing.
  if (ranges[0].empty()) {
    if (!r.forced) {
      seen.verdict = {ActionStatus::retryable,
                      who +
                          "refused: etcd holds no primary record, so no agent ever held this database's lease "
                          "(check the old primary's [check.lease] database and [etcd] cluster); a lapsed lease "
                          "would prove nothing; a forced decision overrides it"};
    }
    return seen;
  }
  seen.record_revision = ranges[0][0].mod_revision;
  auto named = dblease::decodePrimary(ranges[0][0].value);
  if (named && named.value().region == r.to && (node_.empty() || named.value().node == node_)) {
    seen.already = true;
  } else if (!r.forced && (!named || named.value().region != r.from)) {
    seen.verdict = {ActionStatus::permanent,
                    who + "refused: the primary record names " +
                        (named ? "region " + named.value().region : "nobody readable (" + named.error().message + ")") +
                        ", not " + r.from + " that this plan fails over from; a forced decision overrides it"};
  }
  return seen;
}

ActionResult PrimaryHandover::precheck(const ActionRequest& r) const {
  for (;;) {
    const Seen seen = look(r);
    if (!seen.unanswered || !pauseBeforePoll(r, std::chrono::milliseconds{100})) return seen.verdict;
  }
}

ActionResult PrimaryHandover::claim(const ActionRequest& r, const std::function<ActionResult()>& before_move) {
  dblease::PrimaryRecord record;
  record.region = r.to;
  record.node = node_;
  record.epoch = r.epoch;
  record.endpoint = endpoint_;
  record.by = "plan " + std::to_string(r.plan_id);
  const std::string who = "database " + database_ + ": ";
  for (;;) {
    const Seen seen = look(r);
    if (seen.unanswered) {
      // An etcd election or a slow member: asked again within the attempt, as a held lease is.
      if (pauseBeforePoll(r, std::chrono::milliseconds{100})) continue;
      return seen.verdict;
    }
    if (seen.verdict.status != ActionStatus::applied) return seen.verdict;
    if (seen.already) return {ActionStatus::applied, who + "primary record already names " + r.to};
    if (seen.lease_held && !r.forced) {
      if (pauseBeforePoll(r, std::chrono::milliseconds{100})) continue;
      return {ActionStatus::retryable, who + "the old primary's lease is still held by " + seen.holder +
                                           "; not promoting before it lapses (its agent fences the database first)"};
    }
    // The lease is gone: what the old primary last published is final. Judge it before the record moves,
    // and move it only if nothing changed meanwhile.
    std::string judged;
    if (before_move) {
      ActionResult gate = before_move();
      if (gate.status != ActionStatus::applied) return gate;
      judged = gate.detail;
    }
    record.since_ms = toUnixMillis(r.clock->wallNow());  // when written: the lease was gone by then
    std::vector<etcd::Compare> compare{
        seen.record_revision > 0 ? etcd::modRevisionIs(keys_.primary, seen.record_revision)
                                 : etcd::createRevisionIs(keys_.primary, 0),
        seen.position_revision > 0 ? etcd::modRevisionIs(keys_.position, seen.position_revision)
                                   : etcd::createRevisionIs(keys_.position, 0)};
    if (!r.forced) compare.push_back(etcd::createRevisionIs(keys_.lease, 0));
    if (r.epoch > 0) compare.push_back(etcd::createRevisionIs(leader_key_, r.epoch));
    auto txn = client_->txn(compare, {etcd::put(keys_.primary, dblease::encode(record))});
    if (txn && txn.value().succeeded) {
      return {ActionStatus::applied, (judged.empty() ? "" : judged + "; ") + who + "primary record names " + r.to +
                                         (node_.empty() ? "" : " (" + node_ + ")") +
                                         (r.forced ? " (forced: the old primary's lease was not waited for)"
                                                   : " after the old primary's lease lapsed")};
    }
    // Something moved between the look and the write (or etcd did not answer): look again.
    if (!pauseBeforePoll(r, std::chrono::milliseconds{100})) {
      return {ActionStatus::retryable,
              who + "the primary record, lease or position kept changing; " + (txn ? "" : txn.error().message)};
    }
  }
}

}  // namespace hale::aggregator
