#pragma once

// The agent's local journal of fencing (README "The primary lease"): one JSON object per line, appended
// and fsync'd. A fence for want of the lease is written as intended (+fencing) before it is applied and
// as done (+fenced) after, so a crash in between never forgets it; a split brain is fenced first and
// written after. A fence survives an agent restart, and an operator can read what happened when. Only
// fencing events are written (a few per outage), so the file stays small.
//
//   {"ts_ms":1764600000000,"event":"+fenced","database":"main","reason":"lease_lost","detail":"..."}
//
// Events: +fencing, +fenced, -fenced (the lease came back), -fenced-by-operator (halectl unfence),
// +split-brain, -fence-failed (the first failure of a streak).

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "result.h"

namespace hale::agent {

struct FenceEntry {
  int64_t ts_ms = 0;
  std::string event;
  std::string database;
  std::string reason;
  std::string detail;
};

class FenceJournal {
 public:
  // Opens (creates) `path`. Lines that do not parse are skipped and counted, never fatal.
  static Result<std::unique_ptr<FenceJournal>> open(const std::string& path);
  ~FenceJournal();

  Result<void> append(const FenceEntry& e);
  // The last +fencing, +fenced or -fenced* entry for `database`: whether the database was left fenced.
  bool leftFenced(const std::string& database, std::string& reason) const;
  std::vector<FenceEntry> recent(size_t n) const;
  size_t unreadableLines() const { return unreadable_; }

 private:
  FenceJournal(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void remember(FenceEntry e);

  mutable std::mutex mu_;
  int fd_;
  std::string path_;
  std::map<std::string, std::string> fenced_;  // database -> reason, for databases the journal leaves fenced
  std::deque<FenceEntry> recent_;              // the last kRecent entries
  size_t unreadable_ = 0;
};

}  // namespace hale::agent
