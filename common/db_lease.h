#pragma once

// The primary lease of a database cluster in etcd (DESIGN §9; README "The primary lease"): the names of its
// two keys and the records they hold, shared by the agent that holds the lease and the aggregator that
// waits for it to lapse before promoting.
//
//   /hale/<cluster>/db/<database>/primary  which region (and optionally which node) may run the writable
//                                          primary, and under which aggregator epoch that was decided; no
//                                          lease: it outlives every process.
//   /hale/<cluster>/db/<database>/lease    held by the agent of that primary on an etcd lease of a few
//                                          seconds, renewed while its database is a writable primary.
//   /hale/<cluster>/db/<database>/position the primary's last flushed WAL position as its agent last saw it
//                                          (PostgreSQL), written with each renewal; no lease, so it outlives
//                                          the primary: the promotion's RPO gate compares the standby with it.
//
// The agent takes the lease only in a transaction that compares the primary record it read, and the
// aggregator moves the primary record only in a transaction that finds no lease: one of the two wins, so
// an old primary that comes back after a promotion can never take the lease again.

#include <cstdint>
#include <string>

#include "result.h"

namespace hale::dblease {

struct Keys {
  std::string primary;
  std::string lease;
  std::string position;
};
Keys keysFor(const std::string& hale_cluster, const std::string& database);

// A name usable in a key: 1..64 bytes of letters, digits, '-', '_' or '.'.
bool validName(const std::string& name);

struct PrimaryRecord {
  std::string region;
  std::string node;   // empty: any node of the region
  int64_t epoch = 0;  // the aggregator leader's epoch that wrote it; 0: claimed by an agent at first start
  int64_t since_ms = 0;
  std::string by;        // the aggregator or agent that wrote it
  std::string endpoint;  // optional: how clients reach this primary ("db.us.example:5432")

  bool names(const std::string& their_region, const std::string& their_node) const {
    return region == their_region && (node.empty() || node == their_node);
  }
};
std::string encode(const PrimaryRecord& r);
Result<PrimaryRecord> decodePrimary(const std::string& text);

struct LeaseRecord {
  std::string node;
  std::string region;
  std::string boot;  // the agent process that holds it
  int64_t since_ms = 0;
};
std::string encode(const LeaseRecord& r);
Result<LeaseRecord> decodeLease(const std::string& text);

struct PositionRecord {
  std::string position;  // PostgreSQL: an LSN such as "0/3000060"
  int64_t at_ms = 0;     // when the primary had flushed at least that much (the agent's check saw it)
  std::string node;
  std::string region;
};
std::string encode(const PositionRecord& r);
Result<PositionRecord> decodePosition(const std::string& text);
// "0/3000060": hexadecimal, one slash; anything else is refused before it reaches SQL.
bool validLsn(const std::string& lsn);

}  // namespace hale::dblease
