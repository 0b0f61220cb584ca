// halectl status (either daemon; the aggregator's rendering is in aggregator_status.cpp) / checks / active /
// unfence: the local hale-agent.

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "control_protocol.h"
#include "table.h"

namespace hale::cli {
namespace {

std::string age(int64_t ms) {
  if (ms < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10'000 ? "%.1fs" : "%.0fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string latency(int64_t us) {
  char buf[32];
  if (us < 1000) {
    std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(us));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fms", static_cast<double>(us) / 1000.0);
  }
  return buf;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Aggregators are configured and every one is known to be down: the node's heartbeats reach nobody. A
// link with no news yet (the moment after a start or reload) is not known down.
bool unheard(const nlohmann::json& status) {
  if (!status.contains("connections") || !status["connections"].is_array() || status["connections"].empty())
    return false;
  for (const auto& c : status["connections"]) {
    if (c.value("connected", false) || c.value("for_ms", int64_t{-1}) < 0) return false;
  }
  return true;
}

// 0 healthy and heard by an aggregator, 1 otherwise: what scripts and monitoring act on.
int exitFor(const nlohmann::json& status) {
  return status.value("status", "") == "healthy" && !unheard(status) ? kExitOk : kExitFailure;
}

}  // namespace

int status(const Context& ctx) {
  nlohmann::json s;
  int code = kExitOk;
  if (!callDaemon(ctx, "status", nlohmann::json::object(), s, code)) return code;
  // The aggregator's status names the active region; the agent's names its node.
  if (s.is_object() && s.contains("active_region")) return printAggregatorStatus(ctx, s);
  if (ctx.json) {
    std::cout << control::dumpJson(s) << "\n";
    return exitFor(s);
  }
  return printAgentStatus(s);
}

int printAgentStatus(const nlohmann::json& s) {
  std::cout << "node    " << s.value("node", "?") << "  region " << s.value("region", "?") << "  status "
            << upper(s.value("status", "?")) << "\n";
  std::cout << "agent   " << s.value("version", "?") << ", up " << s.value("uptime_s", 0) << "s, http "
            << s.value("http", "?") << ", " << s.value("heartbeats_sent", 0) << " heartbeats published to "
            << s["aggregators"].size() << " aggregator endpoint(s)";
  if (s.value("heartbeats_dropped", 0) > 0) std::cout << " (" << s.value("heartbeats_dropped", 0) << " dropped)";
  std::cout << "\n";
  const nlohmann::json links = s.contains("connections") ? s["connections"] : nlohmann::json::array();
  for (const auto& l : links) {
    const int64_t for_ms = l.value("for_ms", int64_t{-1});
    std::cout << "link    " << l.value("endpoint", "?") << ": "
              << (l.value("connected", false) ? std::string("connected") : "NOT CONNECTED")
              << (for_ms >= 0 ? " for " + age(for_ms) : std::string())
              << (l.value("problem", "").empty() ? std::string() : " (" + l.value("problem", "") + ")") << "\n";
  }
  if (unheard(s)) std::cout << "! no aggregator is connected: this node's heartbeats reach nobody\n";
  const nlohmann::json fenced = s.contains("fenced") ? s["fenced"] : nlohmann::json::array();
  for (const auto& f : fenced) {
    std::cout << "FENCED  database " << f.value("database", "?") << ": " << f.value("reason", "?")
              << (f.value("split_brain", false) ? " (SPLIT BRAIN: etcd names another primary)" : "")
              << "; /healthz answers 503 until the lease is back or `halectl unfence`\n";
  }
  const nlohmann::json leases = s.contains("leases") ? s["leases"] : nlohmann::json::array();
  for (const auto& l : leases) {
    std::cout << "lease   database " << l.value("database", "?") << ": "
              << (l.value("holding", false)
                      ? "held, valid " + age(l.value("valid_for_ms", int64_t{0})) + " more"
                      : "not held" + (l.value("holder", "").empty() ? std::string()
                                                                    : " (holder " + l.value("holder", "") + ")"));
    if (l.value("suspended", false)) std::cout << "; FENCING SUSPENDED by the operator until the lease is held again";
    if (!l.value("fence_error", "").empty()) std::cout << "; fence failing: " << l.value("fence_error", "");
    if (!l.value("etcd_error", "").empty()) std::cout << "; etcd: " << l.value("etcd_error", "");
    std::cout << "\n";
  }
  std::cout << "\n";
  Table t({"CHECK", "TYPE", "STATUS", "CRITICAL", "AGE", "LATENCY", "MESSAGE"});
  for (const auto& c : s["checks"]) {
    t.add({c.value("name", "?"), c.value("type", "?"), c.value("status", "?"),
           c.value("critical", false) ? "yes" : "no", age(c.value("age_ms", int64_t{-1})),
           latency(c.value("latency_us", int64_t{0})), c.value("message", "")});
  }
  t.print(std::cout);
  return exitFor(s);
}

int agentChecks(const Context& ctx) {
  nlohmann::json checks;
  int code = kExitOk;
  if (!callDaemon(ctx, "checks", nlohmann::json::object(), checks, code)) return code;
  if (ctx.json) {
    std::cout << control::dumpJson(checks) << "\n";
    return kExitOk;
  }
  Table t({"CHECK", "STATUS", "INTERVAL", "TIMEOUT", "RISE/FALL", "RUNS", "PASS", "WARN", "FAIL", "ERROR", "TIMEOUTS"});
  for (const auto& c : checks) {
    const auto& o = c["outcomes"];
    t.add({c.value("name", "?"), c.value("status", "?"), std::to_string(c.value("interval_ms", 0)) + "ms",
           std::to_string(c.value("timeout_ms", 0)) + "ms",
           std::to_string(c.value("rise", 0)) + "/" + std::to_string(c.value("fall", 0)),
           std::to_string(c.value("runs", 0)), std::to_string(o.value("pass", 0)), std::to_string(o.value("warn", 0)),
           std::to_string(o.value("fail", 0)), std::to_string(o.value("error", 0)),
           std::to_string(c.value("timeouts", 0))});
  }
  t.print(std::cout);
  return kExitOk;
}

int agentActive(const Context& ctx) {
  nlohmann::json a;
  int code = kExitOk;
  if (!callDaemon(ctx, "active", nlohmann::json::object(), a, code)) return code;
  if (ctx.json) {
    std::cout << control::dumpJson(a) << "\n";
    return kExitOk;
  }
  const auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : std::string("-"); };
  std::cout << "active region " << text(a["active_region"]) << "  (aggregator leader " << text(a["leader"])
            << ", epoch " << a.value("epoch", int64_t{0}) << ", cluster " << a.value("cluster", "?") << ")\n\n";
  Table t({"DATABASE", "PRIMARY", "ENDPOINT", "EPOCH", "LEASE HOLDER"});
  const nlohmann::json databases = a.contains("databases") ? a["databases"] : nlohmann::json::object();
  for (const auto& [name, db] : databases.items()) {
    std::string primary = "-";
    std::string epoch = "-";
    std::string endpoint = "-";
    if (db["primary"].is_object()) {
      if (!db["primary"].value("endpoint", "").empty()) endpoint = db["primary"].value("endpoint", "");
      primary = db["primary"].value("region", "?");
      if (!db["primary"].value("node", "").empty()) primary += " (" + db["primary"].value("node", "") + ")";
      epoch = std::to_string(db["primary"].value("epoch", int64_t{0}));
    }
    std::string holder = "none";
    if (db["lease"].is_object())
      holder = db["lease"].value("node", "?") + " (" + db["lease"].value("region", "?") + ")";
    t.add({name, primary, endpoint, epoch, holder});
  }
  t.print(std::cout);
  return kExitOk;
}

int agentUnfence(const Context& ctx) {
  nlohmann::json args = nlohmann::json::object();
  if (ctx.args.has("database")) args["database"] = ctx.args.valueOr("database", "");
  nlohmann::json r;
  int code = kExitOk;
  if (!callDaemon(ctx, "unfence", args, r, code)) return code;
  if (ctx.json) {
    std::cout << control::dumpJson(r) << "\n";
    return kExitOk;
  }
  std::cout << "database " << r.value("database", "?") << " unfenced: " << r.value("unfenced", "") << "\n"
            << r.value("note", "") << "\n";
  return kExitOk;
}

}  // namespace hale::cli
