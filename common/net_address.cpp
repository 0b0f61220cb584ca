#include "net_address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace hale {

bool isIpAddress(const std::string& text) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string checkZmqEndpoint(std::string_view e, bool bind) {
  if (e.rfind("ipc://", 0) == 0) return e.size() > 6 ? "" : "an ipc:// endpoint needs a path";
  if (e.rfind("tcp://", 0) != 0) return "not a ZeroMQ endpoint (tcp://host:port or ipc://path)";
  const std::string_view rest = e.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "no port (tcp://host:port)";
  const std::string host(rest.substr(0, colon));
  const std::string_view port = rest.substr(colon + 1);
  if (bind && port == "*") {
    // an ephemeral port, chosen by ZeroMQ
  } else if (port.empty() || port.size() > 5 ||
             !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "the port \"" + std::string(port) + "\" is not a number";
  } else if (const long p = std::stol(std::string(port)); p < 1 || p > 65535) {
    return "the port " + std::string(port) + " is not in 1..65535";
  }
  if (bind && host == "*") return "";
  if (host.front() == '[') {
    if (host.back() != ']' || !isIpAddress(host.substr(1, host.size() - 2)))
      return "\"" + host + "\" is not an IPv6 address";
    return "";
  }
  if (std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
      !isIpAddress(host)) {
    return "\"" + host + "\" is not an IPv4 address";
  }
  return "";
}

}  // namespace hale
