// rfc2136: points a DNS name at the target region with a TSIG-signed dynamic update (RFC 2136), for BIND,
// PowerDNS, Knot and the like.
//   server = "10.0.0.53"   port = 53          (an IP address: the primary name server of the zone)
//   zone = "example.com"
//   record = "app.example.com"   record_type = "A"   (A or AAAA)
//   values = ["198.51.100.7", "198.51.100.8"] (the answers once this step has run)
//   ttl = 30
//   key_name = "hale"   key_algorithm = "hmac-sha256"   key_secret_file = "tsig-secret"  (base64 secret)
// Reads the current answers first: already right -> already_applied, no update sent. Otherwise one update
// replaces the whole RRset, and verify() asks again. REFUSED/NOTAUTH and TSIG failures are permanent (a
// wrong key does not get better with retries); timeouts and SERVFAIL are retryable.

#include <arpa/inet.h>
// Before ldns: its common.h otherwise defines bool, true and false as macros, which breaks C++ headers.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
// clang-format off
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <optional>

#include "action_registry.h"
#include "secret_file.h"

namespace hale::aggregator {
namespace {

std::string withDot(std::string name) { return name.empty() || name.back() == '.' ? name : name + "."; }

struct Options {
  std::string server;
  uint16_t port = 53;
  std::string zone;
  std::string record;
  ldns_rr_type type = LDNS_RR_TYPE_A;
  std::vector<std::string> values;  // sorted
  uint32_t ttl = 30;
  std::string key_name;
  std::string key_algorithm = "hmac-sha256";
  std::string key_secret;
};

// Owns the ldns objects of one exchange.
struct Resolver {
  ldns_resolver* r = nullptr;
  ~Resolver() {
    if (r != nullptr) ldns_resolver_deep_free(r);
  }
};

class Rfc2136Action final : public Action {
 public:
  explicit Rfc2136Action(Options o) : o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    Resolver res;
    if (auto err = makeResolver(req, res); !err.empty()) return {ActionStatus::permanent, err};
    std::vector<std::string> current;
    if (auto failed = lookup(res, current)) return *failed;
    if (current == o_.values) return {ActionStatus::already_applied, o_.record + " already answers " + join(o_.values)};

    ldns_rr_list* updates = ldns_rr_list_new();
    ldns_rr* drop = ldns_rr_new();  // "delete the RRset": class ANY, TTL 0, no rdata
    ldns_rr_set_owner(drop, ldns_dname_new_frm_str(o_.record.c_str()));
    ldns_rr_set_type(drop, o_.type);
    ldns_rr_set_class(drop, LDNS_RR_CLASS_ANY);
    ldns_rr_set_ttl(drop, 0);
    ldns_rr_list_push_rr(updates, drop);
    for (const std::string& v : o_.values) {
      ldns_rr* add = nullptr;
      const std::string text = o_.record + " " + std::to_string(o_.ttl) + " IN " + typeName() + " " + v;
      if (ldns_rr_new_frm_str(&add, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
        ldns_rr_list_deep_free(updates);
        return {ActionStatus::permanent, "cannot build the record " + text};
      }
      ldns_rr_list_push_rr(updates, add);
    }
    ldns_pkt* pkt =
        ldns_update_pkt_new(ldns_dname_new_frm_str(o_.zone.c_str()), LDNS_RR_CLASS_IN, nullptr, updates, nullptr);
    ldns_rr_list_deep_free(updates);
    if (pkt == nullptr) return {ActionStatus::permanent, "cannot build the update"};
    ldns_pkt* answer = nullptr;
    ldns_status st = ldns_update_pkt_tsig_add(pkt, res.r);
    if (st == LDNS_STATUS_OK) st = ldns_resolver_send_pkt(&answer, res.r, pkt);
    ldns_pkt_free(pkt);
    ActionResult result = classify(st, answer);
    if (answer != nullptr) ldns_pkt_free(answer);
    if (result.status == ActionStatus::applied)
      result.detail = o_.record + " " + join(current) + " -> " + join(o_.values);
    return result;
  }

  ActionResult verify(const ActionRequest& req) override {
    Resolver res;
    if (auto err = makeResolver(req, res); !err.empty()) return {ActionStatus::permanent, err};
    std::vector<std::string> current;
    if (auto failed = lookup(res, current)) return *failed;
    if (current == o_.values) return {ActionStatus::applied, o_.record + " answers " + join(current)};
    return {ActionStatus::retryable, o_.record + " answers " + join(current) + ", expected " + join(o_.values)};
  }

 private:
  std::string typeName() const { return o_.type == LDNS_RR_TYPE_AAAA ? "AAAA" : "A"; }

  static std::string join(const std::vector<std::string>& v) {
    if (v.empty()) return "nothing";
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  }

  std::string makeResolver(const ActionRequest& req, Resolver& res) const {
    res.r = ldns_resolver_new();
    const bool v6 = o_.server.find(':') != std::string::npos;
    ldns_rdf* ns = ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, o_.server.c_str());
    if (ns == nullptr) return "server " + o_.server + " is not an IP address";
    ldns_resolver_push_nameserver(res.r, ns);
    ldns_rdf_deep_free(ns);
    ldns_resolver_set_port(res.r, o_.port);
    const auto left = std::max<int64_t>(
        100, std::chrono::duration_cast<std::chrono::milliseconds>(req.deadline - req.clock->steadyNow()).count());
    timeval tv{static_cast<time_t>(left / 1000), static_cast<suseconds_t>((left % 1000) * 1000)};
    ldns_resolver_set_timeout(res.r, tv);
    ldns_resolver_set_retry(res.r, 1);
    ldns_resolver_set_recursive(res.r, false);
    ldns_resolver_set_tsig_keyname(res.r, o_.key_name.c_str());
    ldns_resolver_set_tsig_algorithm(res.r, o_.key_algorithm.c_str());
    ldns_resolver_set_tsig_keydata(res.r, o_.key_secret.c_str());
    return {};
  }

  // The record's current answers, sorted; the failure when the server did not answer (a TSIG failure
  // here, on the signed query, means the key is wrong: permanent).
  std::optional<ActionResult> lookup(Resolver& res, std::vector<std::string>& out) const {
    ldns_rdf* name = ldns_dname_new_frm_str(o_.record.c_str());
    ldns_pkt* answer = nullptr;
    const ldns_status st = ldns_resolver_query_status(&answer, res.r, name, o_.type, LDNS_RR_CLASS_IN, 0);
    ldns_rdf_deep_free(name);
    if (st != LDNS_STATUS_OK || answer == nullptr) {
      if (answer != nullptr) ldns_pkt_free(answer);
      const bool tsig = st == LDNS_STATUS_CRYPTO_TSIG_BOGUS || st == LDNS_STATUS_CRYPTO_TSIG_ERR;
      return ActionResult{tsig ? ActionStatus::permanent : ActionStatus::retryable,
                          std::string("query for ") + o_.record + " failed: " + ldns_get_errorstr_by_id(st)};
    }
    ldns_rr_list* rrs = ldns_pkt_rr_list_by_type(answer, o_.type, LDNS_SECTION_ANSWER);
    for (size_t i = 0; rrs != nullptr && i < ldns_rr_list_rr_count(rrs); ++i) {
      char* text = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0));
      out.emplace_back(text);
      free(text);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
    }
    if (rrs != nullptr) ldns_rr_list_deep_free(rrs);
    ldns_pkt_free(answer);
    std::sort(out.begin(), out.end());
    return std::nullopt;
  }

  static ActionResult classify(ldns_status st, ldns_pkt* answer) {
    if (st == LDNS_STATUS_CRYPTO_TSIG_BOGUS || st == LDNS_STATUS_CRYPTO_TSIG_ERR) {
      return {ActionStatus::permanent, std::string("TSIG: ") + ldns_get_errorstr_by_id(st)};
    }
    if (st != LDNS_STATUS_OK || answer == nullptr) {
      return {ActionStatus::retryable, std::string("update not answered: ") + ldns_get_errorstr_by_id(st)};
    }
    const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer);
    if (rcode == LDNS_RCODE_NOERROR) return {ActionStatus::applied, ""};
    ldns_lookup_table* lt = ldns_lookup_by_id(ldns_rcodes, rcode);
    const std::string name = lt != nullptr ? lt->name : std::to_string(rcode);
    if (rcode == LDNS_RCODE_SERVFAIL) return {ActionStatus::retryable, "server answered " + name};
    return {ActionStatus::permanent, "server answered " + name};
  }

  Options o_;
};

}  // namespace

std::unique_ptr<Action> makeRfc2136Action(ConfigTable& t, const ActionEnvironment&) {
  Options o;
  bool ok = t.get("server", o.server, Presence::required);
  in6_addr scratch{};
  if (ok && ::inet_pton(AF_INET, o.server.c_str(), &scratch) != 1 &&
      ::inet_pton(AF_INET6, o.server.c_str(), &scratch) != 1) {
    t.error("server", "must be an IP address");
    ok = false;
  }
  int64_t port = 53;
  if (t.get("port", port, Presence::optional, 1, 65535)) o.port = static_cast<uint16_t>(port);
  ok &= t.get("zone", o.zone, Presence::required);
  ok &= t.get("record", o.record, Presence::required);
  std::string type = "A";
  t.getEnum("record_type", type, {"A", "AAAA"});
  o.type = type == "AAAA" ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
  ok &= t.get("values", o.values, Presence::required);
  for (const std::string& v : o.values) {
    if (::inet_pton(type == "AAAA" ? AF_INET6 : AF_INET, v.c_str(), &scratch) != 1) {
      t.error("values", "\"" + v + "\" is not an " + (type == "AAAA" ? "IPv6" : "IPv4") + " address");
      ok = false;
    }
  }
  std::sort(o.values.begin(), o.values.end());
  int64_t ttl = o.ttl;
  if (t.get("ttl", ttl, Presence::optional, 0, 86400)) o.ttl = static_cast<uint32_t>(ttl);
  ok &= t.get("key_name", o.key_name, Presence::required);
  t.getEnum("key_algorithm", o.key_algorithm, {"hmac-md5", "hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"});
  std::string secret_file;
  if (t.get("key_secret_file", secret_file, Presence::required)) {
    auto secret = readSecretFile(secret_file);
    if (secret) {
      o.key_secret = secret.value();
    } else {
      t.error("key_secret_file", secret.error().message);
      ok = false;
    }
  } else {
    ok = false;
  }
  if (!ok) return nullptr;
  o.zone = withDot(o.zone);
  o.record = withDot(o.record);
  o.key_name = withDot(o.key_name);
  o.key_algorithm = withDot(o.key_algorithm);
  return std::make_unique<Rfc2136Action>(std::move(o));
}

}  // namespace hale::aggregator
