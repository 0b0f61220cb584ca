#include "etcd_client.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "http_client.h"

namespace hale::etcd {
namespace {

using nlohmann::json;

// Base64 from libsodium, which libzmq maps into the process anyway (OpenSSL would add 1.4 MB to the agent).
std::string base64(const std::string& in) {
  std::string out(sodium_base64_ENCODED_LEN(in.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL the encoded length counts
  return out;
}

// False when `in` is not base64 (an answer we cannot trust is an error, not a guess).
bool unbase64(const std::string& in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.assign(in.size() / 4 * 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(), in.size(), nullptr, &len,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != in.data() + in.size()) {
    return false;
  }
  out.resize(len);
  return true;
}

// etcd's int64 fields arrive as JSON strings; absent means 0.
bool int64Field(const json& j, const char* name, int64_t& out) {
  out = 0;
  const auto it = j.find(name);
  if (it == j.end()) return true;
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > 20) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

Error malformed(const std::string& what) { return makeError("etcd_malformed", "etcd answered " + what); }

Result<std::vector<KeyValue>> readKvs(const json& range) {
  std::vector<KeyValue> out;
  const auto it = range.find("kvs");
  if (it == range.end()) return out;
  if (!it->is_array()) return malformed("a range whose kvs is not a list");
  for (const json& kv : *it) {
    if (!kv.is_object()) return malformed("a key that is not an object");
    KeyValue v;
    const std::string key = kv.value("key", std::string());
    const std::string value = kv.value("value", std::string());
    if (!unbase64(key, v.key) || !unbase64(value, v.value)) return malformed("a key or value that is not base64");
    if (!int64Field(kv, "create_revision", v.create_revision) || !int64Field(kv, "mod_revision", v.mod_revision) ||
        !int64Field(kv, "version", v.version) || !int64Field(kv, "lease", v.lease)) {
      return malformed("a revision that is not a number");
    }
    out.push_back(std::move(v));
  }
  return out;
}

// The end of the key range holding every key that starts with `prefix` (etcd's "prefix + 1").
std::string prefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

json operationJson(const Operation& op) {
  switch (op.kind) {
    case Operation::Kind::put: {
      json p = {{"key", base64(op.key)}, {"value", base64(op.value)}};
      if (op.lease != 0) p["lease"] = std::to_string(op.lease);
      return {{"request_put", p}};
    }
    case Operation::Kind::erase: {
      json d = {{"key", base64(op.key)}};
      if (op.prefix) d["range_end"] = base64(prefixEnd(op.key));
      return {{"request_delete_range", d}};
    }
    case Operation::Kind::range: {
      json r = {{"key", base64(op.key)}};
      if (op.prefix) r["range_end"] = base64(prefixEnd(op.key));
      return {{"request_range", r}};
    }
  }
  return {};
}

json compareJson(const Compare& c) {
  static constexpr const char* kOps[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
  json j = {{"key", base64(c.key)}, {"result", kOps[static_cast<int>(c.op)]}};
  switch (c.target) {
    case Compare::Target::create_revision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::mod_revision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case Compare::Target::version:
      j["target"] = "VERSION";
      j["version"] = std::to_string(c.number);
      break;
    case Compare::Target::value:
      j["target"] = "VALUE";
      j["value"] = base64(c.text);
      break;
    case Compare::Target::lease:
      j["target"] = "LEASE";
      j["lease"] = std::to_string(c.number);
      break;
  }
  return j;
}

// A request's text. Keys and values go base64-encoded, so dump() has nothing it cannot write; should that
// change, it is an error here, never an exception.
Result<std::string> requestText(const json& body) {
  try {
    return body.dump();
  } catch (const json::exception& e) {
    return makeError("etcd_request", std::string("cannot write the request: ") + e.what());
  }
}

Result<json> parse(const Result<std::string>& body) {
  if (!body) return body.error();
  json j = json::parse(body.value(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return malformed("something that is not a JSON object");
  return j;
}

}  // namespace

Operation put(std::string key, std::string value, int64_t lease) {
  return {Operation::Kind::put, std::move(key), std::move(value), lease, false};
}
Operation erase(std::string key) { return {Operation::Kind::erase, std::move(key), {}, 0, false}; }
Operation get(std::string key, bool prefix) { return {Operation::Kind::range, std::move(key), {}, 0, prefix}; }
Compare createRevisionIs(std::string key, int64_t revision) {
  return {Compare::Target::create_revision, Compare::Op::equal, std::move(key), revision, {}};
}
Compare modRevisionIs(std::string key, int64_t revision) {
  return {Compare::Target::mod_revision, Compare::Op::equal, std::move(key), revision, {}};
}
Compare valueIs(std::string key, std::string value) {
  return {Compare::Target::value, Compare::Op::equal, std::move(key), 0, std::move(value)};
}

Client::Client(Options options) : options_(std::move(options)) {}

std::string Client::endpoint() const {
  if (options_.endpoints.empty()) return {};
  return options_.endpoints[current_.load() % options_.endpoints.size()];
}

Result<std::string> Client::attempt(size_t endpoint, const std::string& path, const std::string& body,
                                    const std::string& token, long& status) {
  HttpRequest req;
  req.method = "POST";
  req.url = options_.endpoints[endpoint] + path;
  req.body = body;
  req.timeout = options_.timeout;
  req.headers = {"Content-Type: application/json"};
  if (!token.empty()) req.headers.push_back("Authorization: " + token);
  req.ca_file = options_.ca_file;
  req.cert_file = options_.cert_file;
  req.key_file = options_.key_file;
  req.max_body = size_t{4} << 20;
  HttpResponse r = httpPerform(req);
  status = r.status;
  if (r.status == 0) {
    return makeError(r.timed_out ? "etcd_timeout" : "etcd_unreachable",
                     options_.endpoints[endpoint] + ": " + (r.timed_out ? "no answer in time" : r.error));
  }
  if (r.status != 200) {
    const json e = json::parse(r.body, nullptr, false);
    std::string message;
    for (const char* field : {"message", "error"}) {
      if (message.empty() && e.is_object() && e.contains(field) && e[field].is_string()) message = e[field];
    }
    if (message.empty()) message = "HTTP " + std::to_string(r.status);
    return makeError("etcd_error", options_.endpoints[endpoint] + ": " + message);
  }
  return std::move(r.body);
}

Result<std::string> Client::authenticate(size_t endpoint) {
  long status = 0;
  const json body = {{"name", options_.username}, {"password", options_.password}};
  auto answer = parse(attempt(endpoint, "/v3/auth/authenticate", body.dump(), {}, status));
  if (!answer) return answer.error();
  const json& reply = answer.value();
  const auto it = reply.find("token");
  if (it != reply.end() && !it->is_string()) return malformed("a token that is not a string");
  const std::string token = it != reply.end() ? it->get<std::string>() : std::string();
  if (token.empty()) return makeError("etcd_auth", "etcd gave no token for user " + options_.username);
  std::lock_guard lock(token_mu_);
  token_ = token;
  return token;
}

Result<std::string> Client::call(const std::string& path, const std::string& body) {
  if (options_.endpoints.empty()) return makeError("etcd_unreachable", "no etcd endpoints configured");
  const size_t n = options_.endpoints.size();
  const size_t first = current_.load() % n;
  Error last{"etcd_unreachable", "no endpoint tried"};
  for (size_t i = 0; i < n; ++i) {
    const size_t e = (first + i) % n;
    std::string token;
    if (!options_.username.empty()) {
      std::lock_guard lock(token_mu_);
      token = token_;
    }
    if (!options_.username.empty() && token.empty()) {
      auto t = authenticate(e);
      if (!t) {
        last = t.error();
        continue;
      }
      token = t.value();
    }
    long status = 0;
    auto r = attempt(e, path, body, token, status);
    if (!r && !options_.username.empty() && status == 401) {  // the token expired: once more with a new one
      if (auto t = authenticate(e)) r = attempt(e, path, body, t.value(), status);
    }
    if (r || status != 0) {  // an answer, good or bad, from a member that is up
      current_ = e;
      return r;
    }
    last = r.error();
  }
  return last;
}

Result<Lease> Client::grant(std::chrono::milliseconds ttl) {
  // An answer of the wrong shape anywhere is an error, never an exception.
  try {
    const int64_t seconds = std::max<int64_t>(1, (ttl.count() + 999) / 1000);
    auto j = parse(call("/v3/lease/grant", json{{"TTL", std::to_string(seconds)}}.dump()));
    if (!j) return j.error();
    Lease lease;
    int64_t granted = 0;
    if (!int64Field(j.value(), "ID", lease.id) || !int64Field(j.value(), "TTL", granted) || lease.id == 0)
      return malformed("a lease grant without an id");
    lease.ttl = std::chrono::seconds{granted};
    return lease;
  } catch (const json::exception& e) {
    return malformed(std::string("something unexpected (") + e.what() + ")");
  }
}

Result<std::chrono::milliseconds> Client::keepAlive(int64_t lease) {
  // An answer of the wrong shape anywhere is an error, never an exception.
  try {
    auto j = parse(call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump()));
    if (!j) return j.error();
    const auto result = j.value().find("result");
    if (result == j.value().end() || !result->is_object()) return malformed("a keepalive without a result");
    int64_t ttl = 0;
    if (!int64Field(*result, "TTL", ttl)) return malformed("a keepalive TTL that is not a number");
    return std::chrono::milliseconds{std::chrono::seconds{std::max<int64_t>(ttl, 0)}};
  } catch (const json::exception& e) {
    return malformed(std::string("something unexpected (") + e.what() + ")");
  }
}

Result<void> Client::revoke(int64_t lease) {
  auto j = parse(call("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump()));
  if (!j) return j.error();
  return {};
}

Result<std::vector<KeyValue>> parseRangeAnswer(const std::string& body) {
  try {
    auto j = parse(body);
    if (!j) return j.error();
    return readKvs(j.value());
  } catch (const json::exception& e) {
    return malformed(std::string("something unexpected (") + e.what() + ")");
  }
}

Result<TxnResult> parseTxnAnswer(const std::string& body) {
  // An answer of the wrong shape anywhere is an error, never an exception.
  try {
    auto j = parse(body);
    if (!j) return j.error();
    TxnResult out;
    const json& a = j.value();
    out.succeeded = a.value("succeeded", false);
    if (const auto h = a.find("header"); h != a.end() && h->is_object()) {
      if (!int64Field(*h, "revision", out.revision)) return malformed("a revision that is not a number");
    }
    const auto responses = a.find("responses");
    if (responses == a.end()) return out;
    if (!responses->is_array()) return malformed("transaction responses that are not a list");
    for (const json& r : *responses) {
      if (!r.is_object()) return malformed("a transaction response that is not an object");
      const auto range = r.find("response_range");
      if (range == r.end()) continue;
      if (!range->is_object()) return malformed("a range response that is not an object");
      auto kvs = readKvs(*range);
      if (!kvs) return kvs.error();
      out.ranges.push_back(std::move(kvs).value());
    }
    return out;
  } catch (const json::exception& e) {
    return malformed(std::string("something unexpected (") + e.what() + ")");
  }
}

Result<std::vector<KeyValue>> Client::range(const std::string& key, bool prefix) {
  json body = {{"key", base64(key)}};
  if (prefix) body["range_end"] = base64(prefixEnd(key));
  auto request = requestText(body);
  if (!request) return request.error();
  auto answer = call("/v3/kv/range", request.value());
  if (!answer) return answer.error();
  return parseRangeAnswer(answer.value());
}

Result<TxnResult> Client::txn(const std::vector<Compare>& compare, const std::vector<Operation>& success,
                              const std::vector<Operation>& failure) {
  json body = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const Compare& c : compare) body["compare"].push_back(compareJson(c));
  for (const Operation& o : success) body["success"].push_back(operationJson(o));
  for (const Operation& o : failure) body["failure"].push_back(operationJson(o));
  auto request = requestText(body);
  if (!request) return request.error();
  auto answer = call("/v3/kv/txn", request.value());
  if (!answer) return answer.error();
  return parseTxnAnswer(answer.value());
}

}  // namespace hale::etcd
