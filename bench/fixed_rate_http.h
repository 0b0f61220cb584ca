#pragma once

// An open-loop HTTP load generator: GET requests at a fixed rate, whatever the server's pace, over a pool
// of keep-alive connections, each request's latency measured from the instant it was due, not from when a
// connection was free to send it. A server that stalls therefore shows its stall in the latencies of every
// request that fell due meanwhile (what a closed-loop tool such as wrk hides: it stops sending while it
// waits). Plain HTTP/1.1 on 127.0.0.1, answers with Content-Length only (nginx's and libmicrohttpd's for a
// fixed body). Single-threaded, epoll.

#include <cstdint>
#include <string>

namespace hale::bench {

struct FixedRateOptions {
  uint16_t port = 0;
  std::string path = "/";
  double rate_per_s = 1000;
  double seconds = 10;
  int connections = 32;
};

struct FixedRateResult {
  uint64_t sent = 0;
  uint64_t answered = 0;   // complete 2xx answers
  uint64_t errors = 0;     // non-2xx, a connection closed with a request on it, or unanswered at the end
  uint64_t sent_late = 0;  // requests that waited past their due time for a free connection
  double achieved_per_s = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;  // from the due time
};

// Throws std::runtime_error when it cannot connect at all.
FixedRateResult runFixedRate(const FixedRateOptions& options);

}  // namespace hale::bench
