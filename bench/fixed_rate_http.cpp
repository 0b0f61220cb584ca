#include "fixed_rate_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace hale::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  int fd = -1;
  bool busy = false;
  Clock::time_point due{};  // when the request on it was due
  std::string in;           // the answer's bytes so far
};

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// The value of header `name` (lower case) in `head`, or empty.
std::string_view header(std::string_view head, std::string_view name) {
  size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    const size_t start = at + 2;
    const size_t end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, end == std::string_view::npos ? head.npos : end - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
    at = end;
  }
  return {};
}

struct Answer {
  size_t length = 0;  // 0: not complete yet
  int status = 0;
  bool close = false;
};

// The first complete answer in `in`, if there is one. Only Content-Length bodies (or none).
Answer parseAnswer(const std::string& in) {
  Answer a;
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return a;
  const std::string_view head(in.data(), head_end);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") throw std::runtime_error("not an HTTP answer");
  a.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  if (!header(head, "transfer-encoding").empty()) throw std::runtime_error("chunked answers are not supported");
  const std::string_view length = header(head, "content-length");
  const size_t body = length.empty() ? 0 : std::stoul(std::string(length));
  const std::string_view connection = header(head, "connection");
  a.close = connection.size() == 5 && ::strncasecmp(connection.data(), "close", 5) == 0;
  if (in.size() < head_end + 4 + body) return a;
  a.length = head_end + 4 + body;
  return a;
}

double percentile(const std::vector<uint32_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  const size_t i = std::min(sorted_us.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted_us.size())));
  return sorted_us[i] / 1000.0;
}

class Generator {
 public:
  explicit Generator(const FixedRateOptions& o)
      : o_(o),
        request_("GET " + o.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    connections_.resize(static_cast<size_t>(std::max(1, o.connections)));
    for (size_t i = 0; i < connections_.size(); ++i) open(i);
    latencies_us_.reserve(static_cast<size_t>(o.rate_per_s * o.seconds * 1.05) + 16);
  }
  ~Generator() {
    for (Connection& c : connections_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    ::close(epoll_);
  }

  FixedRateResult run() {
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds));
    const double interval_ns = 1e9 / o_.rate_per_s;
    uint64_t next = 0;  // the index of the next request to send; request i is due at start + i * interval
    const auto dueAt = [&](uint64_t i) {
      return start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i) * interval_ns));
    };
    epoll_event events[64];
    for (;;) {
      auto now = Clock::now();
      while (!idle_.empty() && dueAt(next) <= now && dueAt(next) < end) send(dueAt(next++), now);
      const bool issuing = dueAt(next) < end;
      if (!issuing && busy_ == 0) break;
      if (!issuing && now > end + std::chrono::seconds{1}) {
        result_.errors += busy_;  // unanswered a second after the last was due
        break;
      }
      // Wake at the next due time when a connection is free to take it, else when an answer comes.
      timespec wait{0, 100'000'000};
      if (issuing && !idle_.empty()) {
        const auto until = std::max(Clock::duration::zero(), dueAt(next) - now);
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until).count();
        wait = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      }
      const int n = ::epoll_pwait2(epoll_, events, 64, &wait, nullptr);
      if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_pwait2: ") + std::strerror(errno));
      now = Clock::now();
      for (int k = 0; k < n; ++k) receive(events[k].data.u64, now);
    }
    result_.achieved_per_s = static_cast<double>(result_.answered) / o_.seconds;
    std::sort(latencies_us_.begin(), latencies_us_.end());
    result_.p50_ms = percentile(latencies_us_, 0.50);
    result_.p90_ms = percentile(latencies_us_, 0.90);
    result_.p99_ms = percentile(latencies_us_, 0.99);
    result_.p999_ms = percentile(latencies_us_, 0.999);
    result_.max_ms = latencies_us_.empty() ? 0 : latencies_us_.back() / 1000.0;
    return result_;
  }

 private:
  void open(size_t i) {
    Connection& c = connections_[i];
    c = Connection{};
    c.fd = connectTo(o_.port);
    epoll_event e{};
    e.events = EPOLLIN | EPOLLRDHUP;
    e.data.u64 = i;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &e) != 0)
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    idle_.push_back(i);
  }

  void reopen(size_t i) {
    Connection& c = connections_[i];
    if (c.busy) {
      ++result_.errors;
      --busy_;
    }
    ::close(c.fd);  // also leaves the epoll set
    idle_.erase(std::remove(idle_.begin(), idle_.end(), i), idle_.end());
    open(i);
  }

  void send(Clock::time_point due, Clock::time_point now) {
    const size_t i = idle_.back();
    idle_.pop_back();
    Connection& c = connections_[i];
    // A request is a few dozen bytes into an empty socket buffer: it goes at once or the socket is broken.
    if (::send(c.fd, request_.data(), request_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request_.size())) {
      ++result_.errors;
      reopen(i);
      return;
    }
    c.busy = true;
    c.due = due;
    ++busy_;
    ++result_.sent;
    if (now - due > std::chrono::milliseconds{1}) ++result_.sent_late;
  }

  void receive(size_t i, Clock::time_point now) {
    Connection& c = connections_[i];
    char buffer[4096];
    bool closed = false;
    for (;;) {
      const ssize_t got = ::recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got > 0) {
        c.in.append(buffer, static_cast<size_t>(got));
        continue;
      }
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed = true;
      if (got < 0 && errno == EINTR) continue;
      break;
    }
    while (c.busy) {
      const Answer a = parseAnswer(c.in);
      if (a.length == 0) break;
      c.in.erase(0, a.length);
      c.busy = false;
      --busy_;
      if (a.status >= 200 && a.status < 300) {
        ++result_.answered;
        latencies_us_.push_back(
            static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - c.due).count()));
      } else {
        ++result_.errors;
      }
      if (a.close) {
        closed = true;
      } else {
        idle_.push_back(i);
      }
    }
    if (closed) reopen(i);  // the server's keep-alive limit (nginx: 1 000 requests), or an error
  }

  FixedRateOptions o_;
  std::string request_;
  int epoll_;
  std::vector<Connection> connections_;
  std::vector<size_t> idle_;
  uint64_t busy_ = 0;
  std::vector<uint32_t> latencies_us_;
  FixedRateResult result_;
};

}  // namespace

FixedRateResult runFixedRate(const FixedRateOptions& options) {
  if (options.rate_per_s <= 0 || options.seconds <= 0) throw std::runtime_error("rate and seconds must be positive");
  Generator g(options);
  return g.run();
}

}  // namespace hale::bench
