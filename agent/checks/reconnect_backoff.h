#pragma once

// When a database check may try to open its session again (kept_session.h). After a failed attempt the
// next probe tries again; further failures space the attempts at least 1 s, 2 s, 4 s, then 8 s apart, so
// a server that is down or refuses this user is not hammered by every node of the fleet, and one that
// comes back is seen within 8 s. Pure: the caller passes the time.

#include <chrono>
#include <string>

#include "clock.h"

namespace hale::agent {

class ReconnectBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{1000};
  static constexpr std::chrono::milliseconds kMax{8000};

  // Whether a connection attempt may be made at `now`.
  bool mayAttempt(SteadyTime now) const { return failures_ == 0 || now >= next_attempt_; }
  // Records a failed attempt at `now` and why it failed.
  void failed(SteadyTime now, std::string why);
  // Records a connection made.
  void succeeded();
  int failures() const { return failures_; }
  // The message of a probe that may not attempt yet: the last failure and when the next attempt comes.
  std::string waitingMessage(SteadyTime now) const;

 private:
  int failures_ = 0;
  SteadyTime next_attempt_{};
  std::string last_error_;
};

}  // namespace hale::agent
