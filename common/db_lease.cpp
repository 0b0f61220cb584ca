#include "db_lease.h"

#include <nlohmann/json.hpp>

namespace hale::dblease {
namespace {

using nlohmann::json;

// A record written by another version may carry more fields: they are ignored, but the ones read must
// have their type.
template <typename T>
bool field(const json& j, const char* name, T& out, bool required) {
  const auto it = j.find(name);
  if (it == j.end()) return !required;
  try {
    out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

Result<json> parseObject(const std::string& text, const char* what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return makeError("db_lease", std::string(what) + " record is not JSON");
  return j;
}

}  // namespace

Keys keysFor(const std::string& hale_cluster, const std::string& database) {
  const std::string base = "/hale/" + hale_cluster + "/db/" + database + "/";
  return {base + "primary", base + "lease", base + "position"};
}

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string encode(const PrimaryRecord& r) {
  return json{{"region", r.region},     {"node", r.node}, {"epoch", r.epoch},
              {"since_ms", r.since_ms}, {"by", r.by},     {"endpoint", r.endpoint}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<PrimaryRecord> decodePrimary(const std::string& text) {
  auto j = parseObject(text, "primary");
  if (!j) return j.error();
  PrimaryRecord r;
  if (!field(j.value(), "region", r.region, true) || r.region.empty() || !field(j.value(), "node", r.node, false) ||
      !field(j.value(), "epoch", r.epoch, false) || !field(j.value(), "since_ms", r.since_ms, false) ||
      !field(j.value(), "by", r.by, false) || !field(j.value(), "endpoint", r.endpoint, false)) {
    return makeError("db_lease", "primary record lacks a region or has a field of the wrong type");
  }
  return r;
}

std::string encode(const LeaseRecord& r) {
  return json{{"node", r.node}, {"region", r.region}, {"boot", r.boot}, {"since_ms", r.since_ms}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Result<LeaseRecord> decodeLease(const std::string& text) {
  auto j = parseObject(text, "lease");
  if (!j) return j.error();
  LeaseRecord r;
  if (!field(j.value(), "node", r.node, true) || !field(j.value(), "region", r.region, true) ||
      !field(j.value(), "boot", r.boot, false) || !field(j.value(), "since_ms", r.since_ms, false)) {
    return makeError("db_lease", "lease record lacks a node or region, or has a field of the wrong type");
  }
  return r;
}

std::string encode(const PositionRecord& r) {
  return json{{"position", r.position}, {"at_ms", r.at_ms}, {"node", r.node}, {"region", r.region}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Result<PositionRecord> decodePosition(const std::string& text) {
  auto j = parseObject(text, "position");
  if (!j) return j.error();
  PositionRecord r;
  if (!field(j.value(), "position", r.position, true) || !field(j.value(), "at_ms", r.at_ms, true) ||
      !field(j.value(), "node", r.node, false) || !field(j.value(), "region", r.region, false) ||
      !validLsn(r.position)) {
    return makeError("db_lease", "position record lacks a valid position or at_ms");
  }
  return r;
}

bool validLsn(const std::string& lsn) {
  const size_t slash = lsn.find('/');
  // Two halves of 1..8 hex digits, as pg_lsn takes them.
  if (slash == std::string::npos || slash == 0 || slash > 8 || lsn.size() - slash - 1 == 0 ||
      lsn.size() - slash - 1 > 8)
    return false;
  for (size_t i = 0; i < lsn.size(); ++i) {
    if (i == slash) continue;
    const char c = lsn[i];
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace hale::dblease
