#pragma once

// The agent's HTTP endpoint (libmicrohttpd, one internal polling thread on epoll): /healthz answers from
// the health board's snapshot in microseconds (200 when every critical check passes, else 503), /metrics
// in Prometheus text, anything else 404; GET and HEAD only. No request ever waits on a check.

#include <functional>
#include <memory>
#include <string>

#include "agent_counters.h"
#include "health_board.h"
#include "result.h"

struct MHD_Daemon;

namespace hale::agent {

// Returns the snapshot to serve; swapped on reload, so the server outlives a board.
using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;

class HttpServer {
 public:
  HttpServer(SnapshotSource source, AgentCounters& counters, const Clock& clock);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` (IPv4 or IPv6 literal) and `port` (0: any free port, see port()).
  Result<void> start(const std::string& address, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

  // Answers one request into `body`/`content_type`; returns the HTTP status. Exposed for tests.
  unsigned handle(std::string_view method, std::string_view url, std::string& body, const char*& content_type) const;

 private:
  SnapshotSource source_;
  AgentCounters& counters_;
  const Clock& clock_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace hale::agent
