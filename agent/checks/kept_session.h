#pragma once

// The database session a check keeps across probes, so a node probing every second does not make its
// database server fork a backend (PostgreSQL) or set up a session every second. Replaced:
// - when the server closed it while idle (a restart, KILL, an idle timeout): by the next probe, at once;
// - after a probe that failed on it (timed out, broken), which reports that failure: closed as that probe
//   ends (probeEnded()), so a server's backend is not held mid-query until the next probe; replaced by the
//   next probe;
// - when it is `lifetime` old, so a server that stops taking new sessions while old ones still answer (a
//   hung postmaster, max_connections reached) is found within the lifetime, as applications that open
//   sessions find it. One that would reach its lifetime before the next probe (which comes `interval`
//   after this one) is closed as this probe ends rather than held idle until then: a lifetime of 0, or one
//   no longer than the interval, opens a session per probe and holds none between probes.
// Failed attempts to connect are spaced by ReconnectBackoff. Used from one thread at a time (a check's).

#include <chrono>
#include <optional>

#include "reconnect_backoff.h"
#include "result.h"

namespace hale::agent {

inline constexpr std::chrono::milliseconds kDefaultSessionLifetime{10000};

// Conn: movable, with `bool reusable()` (pg_client.h, mysql_client.h).
template <class Conn>
class KeptSession {
 public:
  KeptSession(std::chrono::milliseconds lifetime, std::chrono::milliseconds interval)
      : lifetime_(lifetime), interval_(interval) {}

  // The session to probe on: the kept one, or a new one from `connect()` (returning Result<Conn>). An
  // error is the connection's own, or, while the backoff holds, the last one and when the next try comes.
  template <class Connect>
  Result<Conn*> acquire(SteadyTime now, Connect&& connect) {
    acquired_at_ = now;
    if (conn_ && (now - opened_at_ >= lifetime_ || !conn_->reusable())) conn_.reset();
    if (conn_) return &*conn_;
    if (!backoff_.mayAttempt(now)) return makeError("connect", backoff_.waitingMessage(now));
    Result<Conn> fresh = connect();
    if (!fresh) {
      backoff_.failed(now, fresh.error().message);
      return fresh.error();
    }
    backoff_.succeeded();
    conn_.emplace(std::move(fresh.value()));
    opened_at_ = now;
    return &*conn_;
  }

  // Called when the probe that acquired the session is over, whatever its outcome: closes a session the
  // probe left unusable, or that the next probe (an interval after this one's acquire) would find past its
  // lifetime.
  void probeEnded() {
    if (conn_ && (acquired_at_ + interval_ - opened_at_ >= lifetime_ || !conn_->reusable())) conn_.reset();
  }

 private:
  std::chrono::milliseconds lifetime_;
  std::chrono::milliseconds interval_;  // between the starts of two probes
  std::optional<Conn> conn_;
  SteadyTime opened_at_{};
  SteadyTime acquired_at_{};  // the last probe's start
  ReconnectBackoff backoff_;
};

}  // namespace hale::agent
