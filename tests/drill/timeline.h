#pragma once

// The drill's timeline: what happened after the kill, with millisecond offsets from it, read from the
// aggregator's journal (halectl journal --json) plus marks the drill observes itself (the last heartbeat
// heard from the dead region, the first DNS answer that points at the new one).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hale::drill {

struct TimelineEntry {
  int64_t at_ms = 0;  // wall clock, Unix ms
  std::string event;  // "+region-down", or a drill mark such as "dns-answer"
  std::string subject;
  std::string detail;
  int step = -1;
  int64_t plan_id = 0;  // the journal's plan, 0 for events of none
};

class Timeline {
 public:
  explicit Timeline(int64_t kill_ms) : kill_ms_(kill_ms) {}

  // Takes the journal's events (halectl journal --json, oldest first) from the aggregator named `source`;
  // returns the entries not seen before from it that belong on the timeline (after the kill, and of a kind
  // worth showing). With several aggregators, the one that acts changes and so may the source.
  std::vector<TimelineEntry> addJournal(const nlohmann::json& events, const std::string& source = "");
  void addMark(TimelineEntry e) { entries_.push_back(std::move(e)); }

  // One line: "  +2712 ms  node eu-1 failed (silent for 2500ms)". The drill's own marks ("kill",
  // "last-heartbeat", "dns-answer") read as what they are.
  std::string render(const TimelineEntry& e) const;

  // Offset from the kill of the first entry named `event` (and `subject`, and `step` when given).
  std::optional<int64_t> offset(const std::string& event, const std::string& subject = "", int step = -1) const;
  int64_t killMs() const { return kill_ms_; }
  const std::vector<TimelineEntry>& entries() const { return entries_; }

 private:
  int64_t kill_ms_;
  std::map<std::string, int64_t> last_id_;  // by source
  std::vector<TimelineEntry> entries_;
};

// The journal's events, oldest first, through halectl. Throws std::runtime_error when halectl fails or
// answers anything but a JSON array: an unread journal must not read as an empty one.
nlohmann::json readJournal(const std::string& socket, int limit = 500);

}  // namespace hale::drill
