#pragma once

// Blocking HTTP through libcurl, for checks, cloud providers and tests: a hard deadline, cancellation, a
// cap on the body kept, and optional AWS SigV4 signing (CURLOPT_AWS_SIGV4). httpPerform() is one call on
// a handle of its own; an HttpSession keeps one handle across calls, so a check probing every second
// reuses the connection, the TLS session and the parsed CA bundle instead of paying for them each time.
// libcurl is opened and initialised by the first session (driver_library.h).

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "result.h"

namespace hale {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::milliseconds timeout{5000};    // whole request, connect included
  const std::atomic<bool>* cancel = nullptr;  // aborts the transfer when it becomes true
  size_t max_body = size_t{1} << 20;          // bytes of the answer kept; the rest is discarded
  bool verify_tls = true;
  std::string ca_file;    // PEM bundle to verify the server against, instead of the system's; empty: the system's
  std::string cert_file;  // PEM client certificate (mutual TLS), with key_file
  std::string key_file;
  std::string aws_sigv4;  // "aws:amz:REGION:SERVICE"; empty: unsigned
  std::string userpwd;    // "ACCESS_KEY:SECRET_KEY" when signing
  // An HttpSession's kept connection is not reused once older than this (libcurl counts whole seconds:
  // a connection of 1 s is reused, one of 2 s is not, for an age of 1 s).
  std::chrono::seconds max_connection_age{10};
};

struct HttpResponse {
  long status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string error;                                         // libcurl's description when status is 0
  bool timed_out = false;
  bool cancelled = false;

  // The first header named `name` (lower case), or "" when absent.
  std::string header(std::string_view name) const;
};

HttpResponse httpPerform(const HttpRequest& request);

// Loads libcurl now (driver_library.h), so a check or client configured for HTTP reports a missing package
// when it is built, not at its first request. A session loads it too.
Result<void> requireHttpDriver();

// One libcurl handle for a series of requests from one thread at a time. Every request is set up from
// scratch (nothing of one request's options carries over); what is kept is the connection cache (each
// connection for max_connection_age), TLS sessions, the DNS cache and, with a ca_file, the parsed CA
// store (libcurl 7.88 caches none while its default CA directory is in use).
class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  HttpResponse perform(const HttpRequest& request);

 private:
  void* curl_;  // CURL*
};

}  // namespace hale
