#pragma once

// A tiny HTTP/1.1 server on a free loopback port for tests: every request gets the answer the test set
// (status, body, optional delay before answering). It records the requests it saw. One connection at a
// time, one request per connection (it answers with Connection: close).

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hale::test {

class CannedHttpServer {
 public:
  CannedHttpServer();
  ~CannedHttpServer();

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // `headers`: extra response header lines, each ending in "\r\n" (e.g. "Retry-After: 1\r\n").
  void respond(int status, std::string body, std::chrono::milliseconds delay = std::chrono::milliseconds{0},
               std::string headers = "");
  // Request lines seen so far ("GET /health HTTP/1.1").
  std::vector<std::string> requests() const;
  // The last request whole: request line, headers and body.
  std::string lastRequest() const;

 private:
  void serve();

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  int status_ = 200;
  std::string body_ = "ok";
  std::chrono::milliseconds delay_{0};
  std::string headers_;
  std::vector<std::string> requests_;
  std::string last_request_;
  std::thread thread_;
};

}  // namespace hale::test
