// halectl regions / nodes / journal / plans / failover / failback / approve / reject / pause / resume: the
// regional hale-aggregator.

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

#include "commands.h"
#include "control_protocol.h"
#include "table.h"

namespace hale::cli {

std::string duration(int64_t ms) {
  if (ms < 0) return "-";
  if (ms < 10'000) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  if (ms < 600'000) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms / 60'000) + "m";
}

namespace {

std::string clockTime(int64_t unix_ms) {
  const std::time_t secs = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(unix_ms % 1000));
  return std::string(buf) + ms;
}

// Calls `cmd`; prints the result as JSON with --json, else through `print`. Returns the exit code.
template <typename Print>
int callAndPrint(const Context& ctx, const std::string& cmd, const nlohmann::json& args, Print print) {
  nlohmann::json result;
  int code = kExitOk;
  if (!callDaemon(ctx, cmd, args, result, code)) return code;
  if (ctx.json) {
    std::cout << control::dumpJson(result) << "\n";
  } else {
    print(result);
  }
  return kExitOk;
}

Result<uint64_t> positiveNumber(const std::string& s, const char* what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) {
    return makeError("usage", std::string(what) + " must be a positive number");
  }
  return std::stoull(s);
}

}  // namespace

// With several observers: one line on who leads and how many observers are heard, before the table.
void printCoordination(const nlohmann::json& c) {
  if (c.value("mode", "none") != "etcd") return;
  std::string line = "coordination: etcd, this observer " + c.value("name", "?") + ", ";
  if (!c.value("reachable", false)) {
    line += "etcd UNREACHABLE (" + c.value("error", "") + "): nothing is decided";
  } else {
    const std::string leader = c.value("leader", "");
    line +=
        leader.empty() ? "nobody leads" : "leader " + leader + " (epoch " + std::to_string(c.value("epoch", 0)) + ")";
    line += ", " + std::to_string(c.value("observers_heard", 0)) + " of " +
            std::to_string(c.value("observers", nlohmann::json::array()).size()) + " observers heard, quorum " +
            std::to_string(c.value("quorum", 0));
    if (!c.value("quorum_visible", false)) line += ": NO QUORUM, nothing is decided";
    if (const std::string unfit = c.value("unfit", ""); !unfit.empty()) line += "; not a candidate (" + unfit + ")";
  }
  std::cout << line << "\n";
}

int aggregatorRegions(const Context& ctx) {
  return callAndPrint(ctx, "regions", nlohmann::json::object(), [&ctx](const nlohmann::json& r) {
    nlohmann::json status;
    int code = kExitOk;
    const bool shared =
        std::any_of(r.begin(), r.end(), [](const auto& x) { return x.contains("quorum") && x["quorum"].is_object(); });
    if (callDaemon(ctx, "status", nlohmann::json::object(), status, code)) {
      // One banner line for whatever holds automation, before the table.
      for (const std::string& line : aggregatorAttention(status)) std::cout << "! " << line << "\n";
      if (shared && status.contains("coordination")) printCoordination(status["coordination"]);
    }
    std::vector<std::string> columns = {"REGION",  "ROLE",   "VERDICT", "FOR",     "HEALTHY",
                                        "SUSPECT", "FAILED", "UNKNOWN", "PRIORITY"};
    if (shared) columns.insert(columns.end(), {"QUORUM", "OBSERVERS"});
    Table t(columns);
    for (const auto& x : r) {
      std::string role = x.value("active", false) ? "active" : "standby";
      if (x.value("home", false)) role += " (home)";
      std::vector<std::string> row = {x.value("name", "?"),
                                      role,
                                      x.value("verdict", "?"),
                                      duration(x.value("verdict_for_ms", int64_t{0})),
                                      std::to_string(x.value("healthy", 0)) + "/" + std::to_string(x.value("nodes", 0)),
                                      std::to_string(x.value("suspect", 0)),
                                      std::to_string(x.value("failed", 0)),
                                      std::to_string(x.value("unknown", 0)),
                                      std::to_string(x.value("priority", 0))};
      if (shared) {
        const nlohmann::json q = x.value("quorum", nlohmann::json::object());
        std::string observers;
        nlohmann::json verdicts = nlohmann::json::object();
        if (q.contains("observers") && q["observers"].is_object()) verdicts = q["observers"];
        for (const auto& [name, verdict] : verdicts.items()) {
          observers +=
              (observers.empty() ? "" : " ") + name + "=" + (verdict.is_string() ? verdict.get<std::string>() : "?");
        }
        row.push_back(q.value("verdict", "?"));
        row.push_back(observers.empty() ? "-" : observers);
      }
      t.add(row);
    }
    t.print(std::cout);
  });
}

int aggregatorNodes(const Context& ctx) {
  if (ctx.args.has("unknown")) {
    if (ctx.args.value("region")) {
      std::cerr << "halectl: nodes --unknown lists refused senders of every region: it takes no --region\n";
      return kExitUsage;
    }
    return callAndPrint(ctx, "nodes", {{"unknown", true}}, [](const nlohmann::json& r) {
      Table t({"NODE", "REGION", "REFUSED AS", "FRAMES", "FIRST HEARD", "LAST HEARD"});
      for (const auto& x : r) {
        t.add({x.value("node", "?"), x.value("region", "?"), x.value("reason", "?"),
               std::to_string(x.value("frames", uint64_t{0})), duration(x.value("first_heard_ms", int64_t{0})) + " ago",
               duration(x.value("last_heard_ms", int64_t{0})) + " ago"});
      }
      t.print(std::cout);
      if (r.empty()) std::cout << "no sender refused for who it says it is\n";
    });
  }
  nlohmann::json args = nlohmann::json::object();
  if (auto r = ctx.args.value("region")) args["region"] = *r;
  return callAndPrint(ctx, "nodes", args, [](const nlohmann::json& r) {
    Table t({"NODE", "REGION", "HEALTH", "FOR", "REPORTED", "LAST HEARD"});
    for (const auto& x : r) {
      const int64_t heard = x.value("last_heard_ms", int64_t{-1});
      t.add({x.value("node", "?"), x.value("region", "?"), x.value("health", "?"),
             duration(x.value("health_for_ms", int64_t{0})), x.value("reported", "-"),
             heard < 0 ? "never" : duration(heard) + " ago"});
    }
    t.print(std::cout);
  });
}

int aggregatorJournal(const Context& ctx) {
  auto limit = positiveNumber(ctx.args.valueOr("limit", "50"), "--limit");
  if (!limit) {
    std::cerr << "halectl: " << limit.error().message << "\n";
    return kExitUsage;
  }
  return callAndPrint(ctx, "journal", {{"limit", limit.value()}}, [](const nlohmann::json& r) {
    // The epoch column only where some entry was written under a leadership (coordination = "etcd").
    const bool epochs = std::any_of(r.begin(), r.end(), [](const auto& e) { return e.value("epoch", 0) != 0; });
    std::vector<std::string> columns = {"TIME (UTC)", "EVENT", "SUBJECT", "PLAN", "DETAIL"};
    if (epochs) columns.insert(columns.begin() + 1, "EPOCH");
    Table t(columns);
    for (const auto& e : r) {
      std::string plan = e.contains("plan_id") ? std::to_string(e["plan_id"].get<int64_t>()) : "";
      if (e.contains("step")) plan += "." + std::to_string(e["step"].get<int>());
      std::vector<std::string> row = {clockTime(e.value("ts_ms", int64_t{0})), e.value("event", "?"),
                                      e.value("subject", ""), plan, e.value("detail", "")};
      if (epochs) row.insert(row.begin() + 1, std::to_string(e.value("epoch", int64_t{0})));
      t.add(row);
    }
    t.print(std::cout);
  });
}

int aggregatorPlans(const Context& ctx) {
  auto limit = positiveNumber(ctx.args.valueOr("limit", "10"), "--limit");
  if (!limit) {
    std::cerr << "halectl: " << limit.error().message << "\n";
    return kExitUsage;
  }
  return callAndPrint(ctx, "plans", {{"limit", limit.value()}}, [](const nlohmann::json& r) {
    for (const auto& p : r) {
      std::cout << "plan " << p.value("id", 0) << "  " << p.value("kind", "?") << " " << p.value("from", "?") << " -> "
                << p.value("to", "?") << "  " << p.value("state", "?") << "  "
                << clockTime(p.value("created_ms", int64_t{0})) << (p.value("forced", false) ? "  forced" : "")
                << (p.value("operator", false) ? "  by operator" : "") << "\n  " << p.value("reason", "") << "\n";
      Table t({"  STEP", "ACTION", "STATE", "ATTEMPTS", "DETAIL"});
      for (const auto& s : p["steps"]) {
        t.add({"  " + std::to_string(s.value("step", 0)), s.value("action", "?"), s.value("state", "?"),
               std::to_string(s.value("attempts", 0)), s.value("detail", "")});
      }
      t.print(std::cout);
      std::cout << "\n";
    }
  });
}

int aggregatorFailover(const Context& ctx) {
  const auto to = ctx.args.value("to");
  if (!to || to->empty()) {
    std::cerr << "halectl: failover needs --to REGION\n";
    return kExitUsage;
  }
  return callAndPrint(ctx, "failover", {{"to", *to}, {"force", ctx.args.has("force")}}, [](const nlohmann::json& r) {
    std::cout << "plan " << r.value("plan_id", 0) << ": " << r.value("kind", "?") << " " << r.value("from", "?")
              << " -> " << r.value("to", "?")
              << (r.value("dry_run", false) ? " (dry run: journaled, nothing changes)" : " started") << "\n"
              << "follow it with: halectl plans --limit 1\n";
  });
}

int aggregatorFailback(const Context& ctx) {
  return callAndPrint(ctx, "failback", {{"force", ctx.args.has("force")}}, [](const nlohmann::json& r) {
    std::cout << "plan " << r.value("plan_id", 0) << ": failback " << r.value("from", "?") << " -> "
              << r.value("to", "?")
              << (r.value("dry_run", false) ? " (dry run: journaled, nothing changes)" : " started") << "\n";
  });
}

namespace {

// The plan id of `halectl <verb> ID`; nullopt (the usage error printed) when there is none.
std::optional<uint64_t> planIdArgument(const Context& ctx, const char* verb) {
  if (ctx.args.positional().size() != 2) {
    std::cerr << "halectl: " << verb << " needs the plan id (halectl plans lists them)\n";
    return std::nullopt;
  }
  auto id = positiveNumber(ctx.args.positional()[1], "the plan id");
  if (!id) {
    std::cerr << "halectl: " << id.error().message << "\n";
    return std::nullopt;
  }
  return id.value();
}

}  // namespace

int aggregatorApprove(const Context& ctx) {
  const auto id = planIdArgument(ctx, "approve");
  if (!id) return kExitUsage;
  return callAndPrint(ctx, "approve", {{"id", *id}}, [](const nlohmann::json& r) {
    std::cout << "plan " << r.value("plan_id", 0) << " approved and running\n";
  });
}

int aggregatorReject(const Context& ctx) {
  const auto id = planIdArgument(ctx, "reject");
  if (!id) return kExitUsage;
  return callAndPrint(ctx, "reject", {{"id", *id}}, [](const nlohmann::json& r) {
    std::cout << "plan " << r.value("plan_id", 0)
              << " rejected: no failover between those regions until the failed region is up again\n";
  });
}

int aggregatorPause(const Context& ctx) {
  return callAndPrint(ctx, "pause", nlohmann::json::object(), [](const nlohmann::json&) {
    std::cout << "paused: no automatic decisions; observing goes on; operators may still fail over\n";
  });
}

int aggregatorResume(const Context& ctx) {
  return callAndPrint(ctx, "resume", nlohmann::json::object(), [](const nlohmann::json&) { std::cout << "resumed\n"; });
}

}  // namespace hale::cli
