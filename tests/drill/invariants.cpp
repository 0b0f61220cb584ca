#include "invariants.h"

#include <algorithm>

#include "clock.h"

namespace hale::drill {

using std::chrono::milliseconds;

namespace {

constexpr milliseconds kWriteEvery{20};
constexpr milliseconds kProbeEvery{50};

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

}  // namespace

InvariantWatch::InvariantWatch(std::vector<WatchedDatabase> databases, std::function<std::vector<std::string>()> dns)
    : databases_(std::move(databases)), dns_(std::move(dns)) {}

InvariantWatch::~InvariantWatch() { stop(); }

void InvariantWatch::start() {
  prober_ = std::thread([this] { probeLoop(); });
  writer_ = std::thread([this] { writeLoop(); });
}

void InvariantWatch::stop() {
  stop_ = true;
  if (prober_.joinable()) prober_.join();
  if (writer_.joinable()) writer_.join();
}

void InvariantWatch::probeLoop() {
  std::vector<std::unique_ptr<SqlSession>> sessions;
  for (const WatchedDatabase& d : databases_) sessions.push_back(d.open());
  const std::vector<std::string> probe = {"BEGIN", "INSERT INTO probe VALUES (1)", "ROLLBACK"};
  while (!stop_) {
    Round r{nowMs(), {}};
    for (auto& s : sessions) r.writable.push_back(s->run(probe));
    {
      std::lock_guard lock(mu_);
      rounds_.push_back(std::move(r));
    }
    std::this_thread::sleep_for(kProbeEvery);
  }
}

void InvariantWatch::writeLoop() {
  std::vector<std::unique_ptr<SqlSession>> sessions;
  for (const WatchedDatabase& d : databases_) sessions.push_back(d.open());
  for (int64_t id = 1; !stop_; ++id) {
    const std::vector<std::string> answer = dns_();
    for (size_t i = 0; i < databases_.size(); ++i) {
      if (answer != std::vector<std::string>{databases_[i].address}) continue;
      const int64_t at = nowMs();
      if (sessions[i]->run(
              {"INSERT INTO writes VALUES (" + std::to_string(id) + ", '" + databases_[i].region + "')"})) {
        std::lock_guard lock(mu_);
        acks_.push_back({id, at, databases_[i].region});
      }
    }
    std::this_thread::sleep_for(kWriteEvery);
  }
}

InvariantReport InvariantWatch::report(int64_t fault_ms, const std::string& survivor,
                                       const std::set<int64_t>& survivor_rows, const std::string& old_region) const {
  std::lock_guard lock(mu_);
  InvariantReport r;
  r.probe_rounds = rounds_.size();
  int64_t window_start = -1;
  for (const Round& round : rounds_) {
    if (std::count(round.writable.begin(), round.writable.end(), true) > 1) {
      if (window_start < 0) window_start = round.at_ms;
      r.longest_two_writable_ms =
          std::max<int64_t>(r.longest_two_writable_ms, round.at_ms - window_start + kProbeEvery.count());
    } else {
      window_start = -1;
    }
  }
  r.acknowledged = acks_.size();
  for (const Ack& a : acks_) {
    if (survivor_rows.count(a.id) == 0) {
      if (r.missing.empty()) r.oldest_missing_before_fault_ms = fault_ms - a.at_ms;
      r.missing.push_back(a.id);
      r.newest_missing_before_fault_ms = fault_ms - a.at_ms;
    }
    if (a.at_ms >= fault_ms && a.region == survivor && !r.writes_resumed_ms) r.writes_resumed_ms = a.at_ms - fault_ms;
    if (a.region == old_region && a.at_ms >= fault_ms) r.last_write_on_old_ms = a.at_ms - fault_ms;
  }
  return r;
}

std::string InvariantReport::summary() const {
  std::string s = "longest window with two writable primaries: " + std::to_string(longest_two_writable_ms) + " ms (" +
                  std::to_string(probe_rounds) + " probe rounds)\n";
  s += "acknowledged writes: " + std::to_string(acknowledged) +
       ", missing from the surviving primary: " + std::to_string(missing.size());
  if (!missing.empty()) {
    s += " (ids " + std::to_string(missing.front()) + ".." + std::to_string(missing.back()) + ", acknowledged from " +
         std::to_string(oldest_missing_before_fault_ms) + " to " + std::to_string(newest_missing_before_fault_ms) +
         " ms before the fault)";
  }
  s += "\n";
  if (last_write_on_old_ms) {
    s += "the old primary acknowledged its last write " + std::to_string(*last_write_on_old_ms) +
         " ms after the fault\n";
  }
  s += writes_resumed_ms ? "the surviving primary acknowledged its first write (DNS at it, and writable) " +
                               std::to_string(*writes_resumed_ms) + " ms after the fault\n"
                         : "the surviving primary acknowledged no write after the fault\n";
  return s;
}

}  // namespace hale::drill
