#pragma once

// systemd's readiness and watchdog protocol without libsystemd (about 1 MB and six libraries for one
// datagram): notify() sends one datagram to $NOTIFY_SOCKET, a socket path or, starting with '@', an
// abstract one; watchdogInterval() reads $WATCHDOG_USEC, which applies to this process when
// $WATCHDOG_PID is unset or names it (set but empty or unreadable, it names another). As sd_notify(3) and
// sd_watchdog_enabled(3) describe them.

#include <chrono>
#include <optional>
#include <string_view>

namespace hale::systemd {

// False when not started by systemd ($NOTIFY_SOCKET unset) or when the datagram could not be sent.
bool notify(std::string_view state);

// How often systemd expects WATCHDOG=1, when it asked for it at all.
std::optional<std::chrono::microseconds> watchdogInterval();

}  // namespace hale::systemd
