#include "invariants.h"

#include <algorithm>
#include <iterator>

#include "clock.h"

namespace hale::drill {

using std::chrono::milliseconds;

namespace {

constexpr milliseconds kWriteEvery{20};
constexpr milliseconds kProbeEvery{50};
constexpr int kProbersPerDatabase = 4;

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

}  // namespace

InvariantWatch::InvariantWatch(std::vector<WatchedDatabase> databases, std::function<std::vector<std::string>()> dns)
    : databases_(std::move(databases)), dns_(std::move(dns)), answers_(databases_.size()), gone_(databases_.size()) {}

InvariantWatch::~InvariantWatch() { stop(); }

void InvariantWatch::start() {
  for (size_t i = 0; i < databases_.size(); ++i) {
    for (int k = 0; k < kProbersPerDatabase; ++k) probers_.emplace_back([this, i, k] { probeLoop(i, k); });
  }
  writer_ = std::thread([this] { writeLoop(); });
}

void InvariantWatch::stop() {
  stop_ = true;
  for (std::thread& t : probers_) {
    if (t.joinable()) t.join();
  }
  if (writer_.joinable()) writer_.join();
}

// Several probers per database, each with its own session, staggered: a probe that hangs (a frozen
// server; MariaDB's client bounds in whole seconds) delays only its own thread, and the others' answers
// keep coming every kProbeEvery. An answer is recorded when it arrives: a commit proves the database
// writable by then, a refusal proves it read-only (or gone) by then.
void InvariantWatch::probeLoop(size_t db, int k) {
  std::this_thread::sleep_for(kProbeEvery * k);
  std::unique_ptr<SqlSession> session = databases_[db].open();
  const std::vector<std::string> probe = {"BEGIN", "INSERT INTO probe VALUES (1)", "ROLLBACK"};
  while (!stop_) {
    const int64_t sent = nowMs();
    const SqlSession::Answer a = session->run(probe);
    {
      std::lock_guard lock(mu_);
      answers_[db].push_back({nowMs(), sent, a});
    }
    std::this_thread::sleep_for(kProbeEvery * kProbersPerDatabase);
  }
}

void InvariantWatch::gone(const std::string& region, int64_t at_ms) {
  std::lock_guard lock(mu_);
  for (size_t db = 0; db < databases_.size(); ++db) {
    if (databases_[db].region == region) gone_[db].push_back(at_ms);
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
      if (sessions[i]->run({"INSERT INTO writes VALUES (" + std::to_string(id) + ", '" + databases_[i].region +
                            "')"}) == SqlSession::Answer::ok) {
        std::lock_guard lock(mu_);
        acks_.push_back({id, at, databases_[i].region});
      }
    }
    std::this_thread::sleep_for(kWriteEvery);
  }
}

std::vector<std::pair<int64_t, int64_t>> InvariantWatch::writableSpans(const std::vector<Answer>& answers,
                                                                       int64_t end_ms) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  int64_t from = -1;  // writable since, -1 when not
  for (const Answer& a : answers) {
    if (a.answer == SqlSession::Answer::ok && from < 0) from = a.at_ms;
    if (a.answer == SqlSession::Answer::refused && from >= 0) {
      spans.emplace_back(from, a.at_ms);
      from = -1;
    }
    // no_answer: the last proven state holds.
  }
  if (from >= 0) spans.emplace_back(from, std::max(from + kProbeEvery.count(), end_ms));
  return spans;
}

InvariantReport InvariantWatch::report(int64_t fault_ms, const std::string& survivor,
                                       const std::set<int64_t>& survivor_rows, const std::string& old_region) const {
  std::lock_guard lock(mu_);
  InvariantReport r;
  int64_t end_ms = 0;
  r.probe_rounds = answers_.empty() ? 0 : SIZE_MAX;
  // Each database's answers come from several probers: put in order of arrival once.
  std::vector<std::vector<Answer>> sorted = answers_;
  for (size_t db = 0; db < sorted.size(); ++db) {
    std::vector<Answer>& answers = sorted[db];
    std::stable_sort(answers.begin(), answers.end(),
                     [](const Answer& a, const Answer& b) { return a.at_ms < b.at_ms; });
    r.probe_rounds = std::min(r.probe_rounds, answers.size());
    for (size_t i = 0; i < answers.size(); ++i) {
      end_ms = std::max(end_ms, answers[i].at_ms);
      if (i > 0) r.longest_probe_gap_ms = std::max(r.longest_probe_gap_ms, answers[i].at_ms - answers[i - 1].at_ms);
      if (databases_[db].region == old_region && answers[i].at_ms < fault_ms &&
          answers[i].answer == SqlSession::Answer::ok) {
        r.old_writable_before_fault = true;
      }
    }
    if (databases_[db].region == survivor) {
      // Its last proven state, as for the spans below: a probe that timed out as the watch stopped (a loaded
      // machine) proves nothing either way.
      const auto last = std::find_if(answers.rbegin(), answers.rend(),
                                     [](const Answer& a) { return a.answer != SqlSession::Answer::no_answer; });
      r.survivor_writable_at_end = last != answers.rend() && last->answer == SqlSession::Answer::ok;
    }
  }
  // Every pair of databases: the longest stretch in which both counted as writable.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> spans;
  spans.reserve(sorted.size());
  for (size_t db = 0; db < sorted.size(); ++db) {
    // A server verified gone reads as a refusal then (after an answer of the same instant); the probe
    // figures above are from answers alone.
    std::vector<Answer> marks;
    for (const int64_t at : gone_[db]) marks.push_back({at, at, SqlSession::Answer::refused});
    const auto earlier = [](const Answer& a, const Answer& b) { return a.at_ms < b.at_ms; };
    std::sort(marks.begin(), marks.end(), earlier);
    // An ok sent before a mark and recorded after it (a prober running late) was taken before the server
    // was gone: it counts at the mark, which closes it, not as a write accepted after it.
    std::vector<Answer> own = sorted[db];
    bool moved = false;
    for (Answer& a : own) {
      if (a.answer != SqlSession::Answer::ok) continue;
      const auto m = std::find_if(marks.begin(), marks.end(),
                                  [&](const Answer& mark) { return a.sent_ms <= mark.at_ms && mark.at_ms <= a.at_ms; });
      if (m != marks.end()) {
        a.at_ms = m->at_ms;
        moved = true;
      }
    }
    if (moved) std::stable_sort(own.begin(), own.end(), earlier);
    std::vector<Answer> answers;
    answers.reserve(own.size() + marks.size());
    std::merge(own.begin(), own.end(), marks.begin(), marks.end(), std::back_inserter(answers), earlier);
    spans.push_back(writableSpans(answers, end_ms));
  }
  for (size_t a = 0; a < spans.size(); ++a) {
    for (size_t b = a + 1; b < spans.size(); ++b) {
      for (const auto& [af, at] : spans[a]) {
        for (const auto& [bf, bt] : spans[b]) {
          r.longest_two_writable_ms = std::max(r.longest_two_writable_ms, std::min(at, bt) - std::max(af, bf));
        }
      }
    }
  }
  r.acknowledged = acks_.size();
  for (const Ack& a : acks_) {
    if (survivor_rows.count(a.id) == 0) {
      if (a.at_ms >= fault_ms) {
        ++r.missing_after_fault;
      } else {
        if (r.missing.size() == r.missing_after_fault) r.oldest_missing_before_fault_ms = fault_ms - a.at_ms;
        r.newest_missing_before_fault_ms = fault_ms - a.at_ms;
      }
      r.missing.push_back(a.id);
    }
    if (a.at_ms >= fault_ms && a.region == survivor && !r.writes_resumed_ms) r.writes_resumed_ms = a.at_ms - fault_ms;
    if (a.region == old_region && a.at_ms >= fault_ms) r.last_write_on_old_ms = a.at_ms - fault_ms;
  }
  for (const Ack& a : acks_) {
    if (a.at_ms < fault_ms || survivor_rows.count(a.id) != 0) continue;
    if (a.region == old_region && r.last_write_on_old_ms) {
      r.oldest_missing_after_fault_before_end_ms =
          std::max(r.oldest_missing_after_fault_before_end_ms, fault_ms + *r.last_write_on_old_ms - a.at_ms);
    } else {
      ++r.missing_after_fault_elsewhere;
    }
  }
  return r;
}

std::string InvariantReport::summary() const {
  std::string s = "longest time with two writable primaries: " + std::to_string(longest_two_writable_ms) +
                  " ms (probes: " + std::to_string(probe_rounds) + " answers from each database at least, " +
                  "longest gap " + std::to_string(longest_probe_gap_ms) + " ms)\n";
  s += "acknowledged writes: " + std::to_string(acknowledged) +
       ", missing from the surviving primary: " + std::to_string(missing.size());
  if (!missing.empty()) {
    s += " (ids " + std::to_string(missing.front()) + ".." + std::to_string(missing.back()) + "; " +
         std::to_string(missing_after_fault) + " acknowledged after the fault";
    if (missing_after_fault > 0 && last_write_on_old_ms) {
      s += ", the oldest of those " + std::to_string(oldest_missing_after_fault_before_end_ms) +
           " ms before the old primary's last acknowledged write";
    }
    if (missing.size() > missing_after_fault) {
      s += ", the others from " + std::to_string(oldest_missing_before_fault_ms) + " to " +
           std::to_string(newest_missing_before_fault_ms) + " ms before it";
    }
    s += ")";
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
