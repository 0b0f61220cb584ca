#pragma once

// A small HTTP server (libmicrohttpd, one internal polling thread on epoll) for status endpoints:
// /healthz and /metrics on the agent, /metrics on the aggregator. Every request is answered by one
// handler function from data it already holds; nothing here blocks on I/O of its own.
//
// Bounded for a hostile network: one address holds at most kMaxConnectionsPerAddress connections, an
// idle one is closed after kConnectionTimeout, and all of them together stay well inside the process's
// file-descriptor limit, so a flood from one address neither takes /healthz down for the load balancer
// nor makes a check fail for want of a descriptor.

#include <functional>
#include <string>
#include <string_view>

#include "result.h"

struct MHD_Daemon;

namespace hale {

// Fills `body` and `content_type` for one request and returns the HTTP status. `body` is a buffer the
// server reuses per thread (no allocation once warm). Called on the server's thread.
using HttpHandler = std::function<unsigned(std::string_view method, std::string_view url, std::string& body,
                                           const char*& content_type)>;

inline constexpr unsigned kMaxConnectionsPerAddress = 32;
inline constexpr unsigned kConnectionTimeoutSeconds = 5;
// Descriptors left to the rest of the process (checks, their children, ZeroMQ, etcd, the journal).
inline constexpr unsigned kDescriptorsReserved = 256;

class HttpServer {
 public:
  explicit HttpServer(HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` (IPv4 or IPv6 literal) and `port` (0: any free port, see port()).
  Result<void> start(const std::string& address, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

  // Handlers answer only GET and HEAD; this is the answer to anything else.
  static unsigned methodNotAllowed(std::string& body, const char*& content_type);

 private:
  HttpHandler handler_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

inline constexpr const char* kContentJson = "application/json";
inline constexpr const char* kContentText = "text/plain; charset=utf-8";
inline constexpr const char* kContentPrometheus = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace hale
