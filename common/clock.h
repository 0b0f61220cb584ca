#pragma once

// An injectable clock. Pure logic takes `now` as a parameter; the code that drives it asks a Clock, so
// tests substitute ManualClock and replay hours of behaviour in microseconds.

#include <chrono>
#include <cstdint>
#include <mutex>

namespace hale {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time: intervals, timeouts, deadlines. Never goes backwards.
  virtual SteadyTime steadyNow() const = 0;
  // Civil time: timestamps in heartbeats, logs and the journal. May jump.
  virtual WallTime wallNow() const = 0;
};

// The real clocks. Stateless; one shared instance is enough.
class SystemClock final : public Clock {
 public:
  SteadyTime steadyNow() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& instance();
};

// A clock that moves only when told to. Thread-safe, so a test thread can advance it while the code
// under test reads it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime wall_start = WallTime{std::chrono::seconds{1'700'000'000}});
  SteadyTime steadyNow() const override;
  WallTime wallNow() const override;
  // Moves both clocks forward by `d`.
  void advance(std::chrono::nanoseconds d);
  // Moves only the wall clock (by any amount, backwards too), as NTP or an operator might.
  void jumpWall(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  SteadyTime steady_;
  WallTime wall_;
};

// Milliseconds since the Unix epoch, the unit used on the wire.
int64_t toUnixMillis(WallTime t);
WallTime fromUnixMillis(int64_t ms);

}  // namespace hale
