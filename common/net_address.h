#pragma once

// Checks of the network addresses a configuration names, so `--check-config` catches what start-up would
// fail on (a listen address such as 256.1.1.1, an endpoint without a port), with the line it is on.

#include <string>
#include <string_view>

namespace hale {

// An IPv4 or IPv6 address literal, as the HTTP listener binds to.
bool isIpAddress(const std::string& text);

// A ZeroMQ endpoint: "ipc://path", or "tcp://host:port" with a port of 1..65535 (a bind may also use
// "*" for host or port). A host of digits and dots must be a valid IPv4 address, a bracketed one a valid
// IPv6 address; other names are resolved by ZeroMQ (a host name to connect to, an interface to bind).
// Returns "" when fine, else what is wrong.
std::string checkZmqEndpoint(std::string_view endpoint, bool bind);

}  // namespace hale
