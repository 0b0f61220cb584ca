#include "control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "control_protocol.h"
#include "log.h"
#include "unix_socket.h"

namespace hale::control {

struct ControlServer::Client {
  UniqueFd fd;
  std::string in;
  std::string out;
  std::chrono::steady_clock::time_point last_active;
  bool closing = false;  // flush `out`, then close
};

ControlServer::ControlServer() {
  addCommand("help", "list the commands this socket accepts", [this](const nlohmann::json&) -> Result<nlohmann::json> {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, command] : commands_) list.push_back({{"command", name}, {"summary", command.summary}});
    return list;
  });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::addCommand(const std::string& name, std::string summary, Handler handler) {
  commands_[name] = Command{std::move(summary), std::move(handler)};
}

Result<void> ControlServer::start(const ServerOptions& options) {
  if (thread_.joinable()) return makeError("busy", "control server already started");
  auto fd = listenUnix(options.path, options.mode);
  if (!fd) return fd.error();
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return makeError("io", "eventfd failed");
  options_ = options;
  listen_fd_ = std::move(fd).value().release();
  thread_ = std::thread([this] { run(); });
  return {};
}

void ControlServer::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(options_.path.c_str());
    listen_fd_ = -1;
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
}

std::string ControlServer::dispatch(std::string_view line) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  uint64_t id = 0;
  auto request = parseRequest(line, id);
  if (!request) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    return encodeFailure(id, request.error().code, request.error().message);
  }
  const auto it = commands_.find(request.value().cmd);
  if (it == commands_.end()) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    return encodeFailure(id, errc::unknown_command, "unknown command \"" + request.value().cmd + "\" (try \"help\")");
  }
  try {
    Result<nlohmann::json> result = it->second.handler(request.value().args);
    if (result) return encodeSuccess(id, result.value());
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    return encodeFailure(id, result.error().code, result.error().message);
  } catch (const std::exception& e) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    logError("-control-handler-failed", request.value().cmd + ": " + e.what());
    return encodeFailure(id, errc::internal, e.what());
  }
}

// Reads what is available, answers every complete line, writes what it can. False: drop the client.
bool ControlServer::serviceClient(Client& client) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(client.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      client.in.append(buf, static_cast<size_t>(n));
      client.last_active = std::chrono::steady_clock::now();
      continue;
    }
    if (n == 0) {
      client.closing = true;  // peer half-closed: answer what it sent, then close
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    return false;
  }
  size_t start = 0;
  for (size_t nl; (nl = client.in.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(client.in.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    client.out += dispatch(line);
  }
  client.in.erase(0, start);
  if (client.in.size() > kMaxLineBytes) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    client.out +=
        encodeFailure(0, errc::line_too_long, "request line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    client.in.clear();
    client.closing = true;
  }
  while (!client.out.empty()) {
    const ssize_t n = ::send(client.fd.get(), client.out.data(), client.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      client.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    return false;
  }
  return !(client.closing && client.out.empty());
}

void ControlServer::run() {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : clients) {
      fds.push_back({c->fd.get(), static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
    }
    const int n = ::poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      logError("-control-poll-failed", std::to_string(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // stop() was called

    const auto now = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<Client>> kept;
    kept.reserve(clients.size() + 1);
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = *clients[i];
      bool alive = true;
      if (fds[i + 2].revents != 0) alive = serviceClient(c);
      if (alive && now - c.last_active > options_.idle_timeout) alive = false;
      if (alive) kept.push_back(std::move(clients[i]));
    }
    clients = std::move(kept);

    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        UniqueFd fd(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd) break;
        if (clients.size() >= options_.max_clients) {
          counters_.rejected_clients.fetch_add(1, std::memory_order_relaxed);
          // Best effort, never blocking: a fresh socket's buffer always has room for one line.
          const std::string busy = encodeFailure(0, errc::busy, "too many clients; try again");
          [[maybe_unused]] const ssize_t w = ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL);
          continue;  // closed by UniqueFd
        }
        auto client = std::make_unique<Client>();
        client->fd = std::move(fd);
        client->last_active = now;
        clients.push_back(std::move(client));
      }
    }
  }
}

}  // namespace hale::control
