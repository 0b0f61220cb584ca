#include "fence_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

namespace hale::agent {
namespace {
constexpr size_t kRecent = 64;
}

void FenceJournal::remember(FenceEntry e) {
  if (e.event == "+fenced" || e.event == "+fencing") fenced_[e.database] = e.reason;
  if (e.event.rfind("-fenced", 0) == 0) fenced_.erase(e.database);
  recent_.push_back(std::move(e));
  if (recent_.size() > kRecent) recent_.pop_front();
}

Result<std::unique_ptr<FenceJournal>> FenceJournal::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return makeError("journal", "cannot open fence journal " + path + ": " + std::strerror(errno));
  std::unique_ptr<FenceJournal> j(new FenceJournal(fd, path));
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto v = nlohmann::json::parse(line, nullptr, false);
    if (v.is_discarded() || !v.is_object()) {
      ++j->unreadable_;
      continue;
    }
    FenceEntry e;
    e.ts_ms = v.value("ts_ms", int64_t{0});
    e.event = v.value("event", "");
    e.database = v.value("database", "");
    e.reason = v.value("reason", "");
    e.detail = v.value("detail", "");
    j->remember(std::move(e));
  }
  return j;
}

FenceJournal::~FenceJournal() { ::close(fd_); }

Result<void> FenceJournal::append(const FenceEntry& e) {
  const std::string line =
      nlohmann::json{
          {"ts_ms", e.ts_ms}, {"event", e.event}, {"database", e.database}, {"reason", e.reason}, {"detail", e.detail}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  std::lock_guard lock(mu_);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError("journal", path_ + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return makeError("journal", path_ + ": fdatasync: " + std::strerror(errno));
  remember(e);
  return {};
}

bool FenceJournal::leftFenced(const std::string& database, std::string& reason) const {
  std::lock_guard lock(mu_);
  const auto it = fenced_.find(database);
  if (it == fenced_.end()) return false;
  reason = it->second;
  return true;
}

std::vector<FenceEntry> FenceJournal::recent(size_t n) const {
  std::lock_guard lock(mu_);
  const size_t from = recent_.size() > n ? recent_.size() - n : 0;
  return {recent_.begin() + static_cast<long>(from), recent_.end()};
}

}  // namespace hale::agent
