#pragma once

// A tiny HTTP/1.1 server on a free loopback port for tests: each request gets the next queued answer
// (enqueue), else the standing one (respond): status, body, optional delay before answering. It records
// the requests it saw. One connection at a time, one request per connection (it answers with
// Connection: close) unless keepAlive(true). A fake of a stateful API is a script of answers in the order
// the client asks.

#include <atomic>
#include <chrono>
#include <deque>
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
  // Answers used once each, in order, before the standing answer.
  void enqueue(int status, std::string body, std::chrono::milliseconds delay = std::chrono::milliseconds{0},
               std::string headers = "");
  size_t queued() const;
  // Request lines seen so far ("GET /health HTTP/1.1").
  std::vector<std::string> requests() const;
  // The last request whole: request line, headers and body.
  std::string lastRequest() const;
  // Every request whole, in order.
  std::vector<std::string> fullRequests() const;
  // Serve further requests on a connection until the client closes it (or idles 2 s): for clients that
  // should reuse their connection.
  void keepAlive(bool on) { keep_alive_ = on; }
  // Connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  void serve();
  // Answers one request (the first on a connection even when nothing came); false when a later one did
  // not come or the answer could not be sent.
  bool serveOneRequest(int fd, bool first);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> keep_alive_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  struct Answer {
    int status = 200;
    std::string body = "ok";
    std::chrono::milliseconds delay{0};
    std::string headers;
  };
  Answer standing_;
  std::deque<Answer> queue_;
  std::vector<std::string> requests_;
  std::vector<std::string> full_requests_;
  std::thread thread_;
};

}  // namespace hale::test
