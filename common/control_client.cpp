#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "control_protocol.h"
#include "unix_socket.h"

namespace hale::control {
namespace {

using SteadyClock = std::chrono::steady_clock;

int remainingMs(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Error timedOut(const std::string& path) { return makeError(std::string(errc::timeout), "no answer from " + path); }

}  // namespace

Result<nlohmann::json> call(const std::string& socket_path, const std::string& cmd, const nlohmann::json& args,
                            std::chrono::milliseconds timeout) {
  static std::atomic<uint64_t> next_id{1};
  const auto deadline = SteadyClock::now() + timeout;
  auto fd = connectUnix(socket_path, timeout);
  if (!fd) {
    const bool timed_out = fd.error().code == "timeout";
    return makeError(std::string(timed_out ? errc::timeout : errc::unreachable), fd.error().message);
  }

  Request request;
  request.id = next_id.fetch_add(1);
  request.cmd = cmd;
  request.args = args.is_object() ? args : nlohmann::json::object();
  const std::string out = encodeRequest(request);

  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd.value().get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      // The server may have answered and closed before reading (it does so when busy): read that answer.
      char buf[1024];
      const ssize_t got = ::recv(fd.value().get(), buf, sizeof buf, 0);
      const std::string_view pending(buf, got > 0 ? static_cast<size_t>(got) : 0);
      if (const size_t nl = pending.find('\n'); nl != std::string_view::npos) {
        return parseResponse(pending.substr(0, nl), request.id);
      }
      return makeError(std::string(errc::unreachable), "send to " + socket_path + " failed");
    }
    pollfd p{fd.value().get(), POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) return timedOut(socket_path);
  }

  std::string in;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.value().get(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      if (const size_t nl = in.find('\n'); nl != std::string::npos) {
        return parseResponse(std::string_view(in).substr(0, nl), request.id);
      }
      if (in.size() > 64 * kMaxLineBytes) return makeError(std::string(errc::bad_response), "response too long");
      continue;
    }
    if (n == 0) return makeError(std::string(errc::bad_response), socket_path + " closed the connection");
    if (errno != EAGAIN && errno != EINTR) return makeError(std::string(errc::unreachable), "recv failed");
    pollfd p{fd.value().get(), POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) return timedOut(socket_path);
  }
}

}  // namespace hale::control
