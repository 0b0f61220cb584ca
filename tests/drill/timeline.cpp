#include "timeline.h"

#include <set>
#include <stdexcept>

#include "hale_processes.h"

namespace hale::drill {
namespace {

// Journal events that tell the story of a failover; everything else (node-healthy on start-up, ...) is
// left to `halectl journal`.
const std::set<std::string> kShown = {
    "+node-suspect",
    "+node-failed",
    "+region-degraded",
    "+region-down",
    "-region-down",
    "+tilt",
    "-tilt",
    "+fail-static",
    "-fail-static",
    "+decision",
    "+plan-approved",
    "+plan-step-start",
    "+plan-step-retry",
    "+plan-step-done",
    "-plan-step-failed",
    "+plan-done",
    "-plan-failed",
};

}  // namespace

std::vector<TimelineEntry> Timeline::addJournal(const nlohmann::json& events, const std::string& source) {
  std::vector<TimelineEntry> added;
  if (!events.is_array()) return added;
  int64_t& last = last_id_[source];
  for (const auto& e : events) {
    const int64_t id = e.value("id", int64_t{0});
    if (id <= last) continue;
    last = id;
    TimelineEntry t{e.value("ts_ms", int64_t{0}), e.value("event", ""), e.value("subject", ""),
                    e.value("detail", ""),        e.value("step", -1),  e.value("plan_id", int64_t{0})};
    if (t.at_ms < kill_ms_ || kShown.count(t.event) == 0) continue;
    entries_.push_back(t);
    added.push_back(t);
  }
  return added;
}

std::string Timeline::render(const TimelineEntry& e) const {
  char offset[32];
  std::snprintf(offset, sizeof offset, "%+7lld ms  ", static_cast<long long>(e.at_ms - kill_ms_));
  std::string what;
  if (e.event == "kill") {
    what = "KILL region " + e.subject + ": its agents and its database server (SIGKILL)";
  } else if (e.event == "fault") {
    return std::string(offset) + "FAULT " + e.subject + ": " + e.detail;
  } else if (e.event == "dns-stall") {
    return std::string(offset) + "the DNS server stalls (SIGSTOP) for " + e.detail;
  } else if (e.event == "heal") {
    return std::string(offset) + "the partition heals";
  } else if (e.event == "dns-resume") {
    return std::string(offset) + "the DNS server resumes";
  } else if (e.event == "last-heartbeat") {
    what = "last heartbeat heard from " + e.subject;
  } else if (e.event == "dns-answer") {
    return std::string(offset) + "DNS: app.hale.test answers " + e.detail + " (" + e.subject +
           "), seen by a real query";
  } else if (e.event == "+node-suspect") {
    what = "node " + e.subject + " suspect";
  } else if (e.event == "+node-failed") {
    what = "node " + e.subject + " failed";
  } else if (e.event == "+region-degraded") {
    what = "region " + e.subject + " degraded";
  } else if (e.event == "+region-down") {
    what = "REGION " + e.subject + " DOWN";
  } else if (e.event == "+decision") {
    what = "DECISION " + e.subject;
  } else if (e.event == "+plan-step-start") {
    what = "  step " + std::to_string(e.step) + " " + e.subject + " started";
  } else if (e.event == "+plan-step-done") {
    what = "  step " + std::to_string(e.step) + " " + e.subject + " done";
  } else if (e.event == "-plan-step-failed") {
    what = "  step " + std::to_string(e.step) + " " + e.subject + " FAILED";
  } else if (e.event == "+plan-step-retry") {
    what = "  step " + std::to_string(e.step) + " " + e.subject + " will retry";
  } else if (e.event == "+plan-done") {
    what = "PLAN COMPLETE";
  } else if (e.event == "-plan-failed") {
    what = "PLAN FAILED";
  } else {
    what = e.event + (e.subject.empty() ? "" : " " + e.subject);
  }
  // Step details repeat the action's name ("fence-eu attempt 1/3"): once is enough.
  std::string detail = e.detail;
  if (!e.subject.empty() && detail.rfind(e.subject + " ", 0) == 0) detail.erase(0, e.subject.size() + 1);
  if (!detail.empty()) what += " (" + detail + ")";
  return offset + what;
}

std::optional<int64_t> Timeline::offset(const std::string& event, const std::string& subject, int step) const {
  for (const TimelineEntry& e : entries_) {
    if (e.event == event && (subject.empty() || e.subject == subject) && (step < 0 || e.step == step))
      return e.at_ms - kill_ms_;
  }
  return std::nullopt;
}

nlohmann::json readJournal(const std::string& socket, int limit) {
  const test::CommandResult r = test::halectl(socket, {"journal", "--limit", std::to_string(limit), "--json"});
  if (r.exit_code != 0) {
    throw std::runtime_error("halectl journal on " + socket + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.output);
  }
  nlohmann::json events = nlohmann::json::parse(r.output, nullptr, false);
  if (!events.is_array()) throw std::runtime_error("halectl journal on " + socket + " answered no JSON array");
  return events;
}

}  // namespace hale::drill
