#pragma once

// A small client for etcd's v3 API through its JSON gateway (plain HTTP/1.1 POSTs, so libcurl is enough and
// no gRPC stack is linked): leases, range reads and transactions, which is all that leader election,
// fencing epochs and compare-and-swap state need. Keys and values travel base64-encoded and int64 fields as
// JSON strings; this client hides both.
//
// Every call is bounded by `timeout` per endpoint. Endpoints are tried in order from the last one that
// answered; a transport failure (no HTTP answer) moves to the next, an HTTP error answer is returned as is
// (etcd's own message in the error). Thread-safe: calls may come from several threads at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "result.h"

namespace hale::etcd {

struct Options {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://etcd-1:2379"
  std::string ca_file;                 // TLS: the CA that signed etcd's certificates
  std::string cert_file;               // TLS client certificate and key (etcd's --client-cert-auth)
  std::string key_file;
  std::string username;  // etcd authentication (auth enable); the password is passed, never logged
  std::string password;
  std::chrono::milliseconds timeout{1000};
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct Lease {
  int64_t id = 0;
  std::chrono::milliseconds ttl{0};  // as granted: etcd raises a TTL below its minimum
};

// One comparison of a transaction (etcd's Compare): `target` of `key` `op` the operand.
struct Compare {
  enum class Target { create_revision, mod_revision, version, value, lease };
  enum class Op { equal, not_equal, greater, less };
  Target target = Target::create_revision;
  Op op = Op::equal;
  std::string key;
  int64_t number = 0;  // revision, version or lease id
  std::string text;    // value
};

// One operation of a transaction branch.
struct Operation {
  enum class Kind { put, erase, range };
  Kind kind = Kind::range;
  std::string key;
  std::string value;    // put
  int64_t lease = 0;    // put: 0 = no lease
  bool prefix = false;  // erase, range: every key starting with `key`
};

struct TxnResult {
  bool succeeded = false;  // every comparison held: the success branch ran
  int64_t revision = 0;    // the store's revision after the transaction
  // The keys read by each range operation of the branch that ran, in order.
  std::vector<std::vector<KeyValue>> ranges;
};

// Helpers that read like the intent.
Operation put(std::string key, std::string value, int64_t lease = 0);
Operation erase(std::string key);
Operation get(std::string key, bool prefix = false);
Compare createRevisionIs(std::string key, int64_t revision);  // 0: the key does not exist
Compare modRevisionIs(std::string key, int64_t revision);
Compare valueIs(std::string key, std::string value);

// The answers hale reads, parsed strictly: a body of any other shape is an etcd_malformed error, never an
// exception (the client uses these; the fuzz target feeds them anything).
Result<std::vector<KeyValue>> parseRangeAnswer(const std::string& body);
Result<TxnResult> parseTxnAnswer(const std::string& body);

class Client {
 public:
  explicit Client(Options options);

  Result<Lease> grant(std::chrono::milliseconds ttl);
  // One renewal. Returns the remaining TTL; 0 when the lease no longer exists (expired or revoked).
  Result<std::chrono::milliseconds> keepAlive(int64_t lease);
  Result<void> revoke(int64_t lease);
  Result<std::vector<KeyValue>> range(const std::string& key, bool prefix = false);
  Result<TxnResult> txn(const std::vector<Compare>& compare, const std::vector<Operation>& success,
                        const std::vector<Operation>& failure = {});

  // The endpoint that answered last (for status displays).
  std::string endpoint() const;

 private:
  Result<std::string> call(const std::string& path, const std::string& body);
  Result<std::string> attempt(size_t endpoint, const std::string& path, const std::string& body,
                              const std::string& token, long& status);
  Result<std::string> authenticate(size_t endpoint);

  Options options_;
  std::atomic<size_t> current_{0};
  mutable std::mutex token_mu_;
  std::string token_;
};

}  // namespace hale::etcd
