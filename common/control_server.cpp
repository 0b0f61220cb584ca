#include "control_server.h"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "config_reader.h"
#include "control_protocol.h"
#include "log.h"
#include "parent_dir.h"
#include "thread_name.h"
#include "unix_socket.h"

namespace hale::control {

struct ControlServer::Client {
  UniqueFd fd;
  Caller caller;
  bool admin = false;  // may run admin commands (decided once, at accept)
  std::string in;
  std::string out;
  std::chrono::steady_clock::time_point deadline;
  bool closing = false;                 // flush `out`, then close
  mutable bool told_forbidden = false;  // a refusal was logged for this connection
};

namespace {

// Unsent answers a client may have before the server stops reading its requests.
constexpr size_t kMaxPendingOut = size_t{1} << 20;

std::string userName(uid_t uid) {
  std::vector<char> buf(4096);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) return found->pw_name;
  return std::to_string(uid);
}

bool groupId(const std::string& name, gid_t& out) {
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) return false;
  out = found->gr_gid;
  return true;
}

bool inGroup(const Caller& c, gid_t gid) {
  if (c.gid == gid) return true;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(c.user.c_str(), c.gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(c.user.c_str(), c.gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(static_cast<size_t>(n));
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

}  // namespace

std::string Caller::describe() const { return user + " (uid " + std::to_string(uid) + ")"; }

ControlServer::ControlServer() {
  addCommand("help", "list the commands this socket accepts", [this](const nlohmann::json&) -> Result<nlohmann::json> {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, command] : commands_) list.push_back({{"command", name}, {"summary", command.summary}});
    return list;
  });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::addCommand(const std::string& name, std::string summary, Handler handler) {
  commands_[name] =
      Command{std::move(summary),
              [h = std::move(handler)](const nlohmann::json& args, const Caller&) { return h(args); }, false};
}

void ControlServer::addAdminCommand(const std::string& name, std::string summary, AdminHandler handler) {
  commands_[name] = Command{std::move(summary), std::move(handler), true};
}

bool ControlServer::mayAdminister(const Caller& caller) const {
  if (caller.uid == 0 || caller.uid == ::geteuid()) return true;
  // A uid without a name has no supplementary groups to look up (and its digits must not match a user
  // called that): only its primary group counts.
  if (caller.user == std::to_string(caller.uid)) return has_admin_group_ && caller.gid == admin_gid_;
  return has_admin_group_ && inGroup(caller, admin_gid_);
}

std::string ControlServer::cachedUserName(uint32_t uid) {
  if (auto it = user_names_.find(uid); it != user_names_.end()) return it->second;
  if (user_names_.size() >= 256) user_names_.clear();
  return user_names_[uid] = userName(uid);
}

Result<void> ControlServer::start(const ServerOptions& options) {
  if (thread_.joinable()) return makeError("busy", "control server already started");
  gid_t socket_gid = static_cast<gid_t>(-1);
  if (!options.group.empty() && !groupId(options.group, socket_gid))
    return makeError("config", "control socket group \"" + options.group + "\" does not exist");
  has_admin_group_ = false;
  if (!options.admin_group.empty()) {
    gid_t gid = 0;
    if (!groupId(options.admin_group, gid))
      return makeError("config", "admin group \"" + options.admin_group + "\" does not exist");
    admin_gid_ = gid;
    has_admin_group_ = true;
  }
  if (auto dir = ensureParentDirectory(options.path, "control_socket"); !dir) return dir.error();
  auto fd = listenUnix(options.path, options.mode, socket_gid);
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

std::string ControlServer::dispatch(std::string_view line, const Client& client) {
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
    return encodeFailure(id, errc::unknown_command,
                         "unknown command \"" + request.value().cmd + "\" (\"halectl raw help\" lists them)");
  }
  if (it->second.admin && !client.admin) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    counters_.forbidden.fetch_add(1, std::memory_order_relaxed);
    if (!client.told_forbidden) {  // once per connection: a burst of refused levers is one line
      client.told_forbidden = true;
      logWarn("-control-forbidden", request.value().cmd + " refused to " + client.caller.describe());
    }
    return encodeFailure(id, errc::forbidden,
                         request.value().cmd + " changes something: it needs root, the daemon's user" +
                             (options_.admin_group.empty() ? std::string() : " or group " + options_.admin_group) +
                             " (you are " + client.caller.describe() + ")");
  }
  try {
    Result<nlohmann::json> result = it->second.handler(request.value().args, client.caller);
    if (result) return encodeSuccess(id, result.value());
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    return encodeFailure(id, result.error().code, result.error().message);
  } catch (const std::exception& e) {
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    logError("-control-handler-failed", request.value().cmd + ": " + e.what());
    return encodeFailure(id, errc::internal, e.what());
  }
}

// Answers the complete lines `client.in` holds while its unsent answers stay under kMaxPendingOut.
void ControlServer::answerLines(Client& client) {
  size_t start = 0;
  for (size_t nl; client.out.size() < kMaxPendingOut && (nl = client.in.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    std::string_view line(client.in.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) client.out += dispatch(line, client);
  }
  client.in.erase(0, start);
}

// Sends what the socket takes. False: the peer is gone.
bool ControlServer::flush(Client& client) {
  while (!client.out.empty()) {
    const ssize_t n = ::send(client.fd.get(), client.out.data(), client.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      client.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;
  }
  return true;
}

// One round for one client: at most one read, and only while its answers are not piling up (a client
// that does not read its answers gets no more of them), so no client holds the thread or grows `out`
// past kMaxPendingOut; never more than one line's limit of unanswered bytes. False: drop the client.
bool ControlServer::serviceClient(Client& client) {
  if (!flush(client)) return false;
  answerLines(client);
  if (!client.closing && client.out.size() < kMaxPendingOut) {
    char buf[4096];
    const size_t room = kMaxLineBytes + 2 - std::min(client.in.size(), kMaxLineBytes + 1);
    const ssize_t n = ::recv(client.fd.get(), buf, std::min(sizeof buf, room), 0);
    if (n == 0) {
      client.closing = true;  // peer half-closed: its complete lines are answered, then close
    } else if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) return false;
    } else {
      client.in.append(buf, static_cast<size_t>(n));
      answerLines(client);
      if (client.in.size() > kMaxLineBytes && client.in.find('\n') == std::string::npos) {
        counters_.failures.fetch_add(1, std::memory_order_relaxed);
        counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        client.out += encodeFailure(0, errc::line_too_long,
                                    "request line longer than " + std::to_string(kMaxLineBytes) + " bytes");
        client.in.clear();
        client.closing = true;
      }
    }
  }
  if (!flush(client)) return false;
  return !(client.closing && client.out.empty() && client.in.find('\n') == std::string::npos);
}

void ControlServer::run() {
  nameThisThread("control");
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : clients) {
      const bool reading = !c->closing && c->out.size() < kMaxPendingOut;
      fds.push_back({c->fd.get(), static_cast<short>((reading ? POLLIN : 0) | (c->out.empty() ? 0 : POLLOUT)), 0});
    }
    // A client whose answers drained with requests still waiting is served again without waiting for it.
    const bool pending = std::any_of(clients.begin(), clients.end(), [](const auto& c) {
      return c->out.empty() && c->in.find('\n') != std::string::npos;
    });
    const int n = ::poll(fds.data(), fds.size(), pending ? 0 : 1000);
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
      if (fds[i + 2].revents != 0 || (c.out.empty() && c.in.find('\n') != std::string::npos)) alive = serviceClient(c);
      if (alive && now >= c.deadline) {
        counters_.expired_clients.fetch_add(1, std::memory_order_relaxed);
        alive = false;
      }
      if (alive) kept.push_back(std::move(clients[i]));
    }
    clients = std::move(kept);
    if ((fds[1].revents & POLLIN) != 0) accept(clients, now);
  }
}

void ControlServer::accept(std::vector<std::unique_ptr<Client>>& clients, std::chrono::steady_clock::time_point now) {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;  // closed by UniqueFd
    const size_t of_this_user = static_cast<size_t>(
        std::count_if(clients.begin(), clients.end(), [&](const auto& c) { return c->caller.uid == cred.uid; }));
    if (clients.size() >= options_.max_clients || of_this_user >= options_.max_clients_per_uid) {
      counters_.rejected_clients.fetch_add(1, std::memory_order_relaxed);
      // Best effort, never blocking: a fresh socket's buffer always has room for one line.
      const std::string busy = encodeFailure(0, errc::busy, "too many clients; try again");
      [[maybe_unused]] const ssize_t w = ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL);
      continue;
    }
    auto client = std::make_unique<Client>();
    client->caller = Caller{cred.uid, cred.gid, cred.pid, cachedUserName(cred.uid)};
    client->admin = mayAdminister(client->caller);
    client->fd = std::move(fd);
    client->deadline = now + options_.client_deadline;
    clients.push_back(std::move(client));
  }
}

}  // namespace hale::control

namespace hale {

void readControlGroups(ConfigTable& root, std::string& control_group, std::string& admin_group) {
  for (auto [key, out] : {std::pair<const char*, std::string*>{"control_group", &control_group},
                          std::pair<const char*, std::string*>{"admin_group", &admin_group}}) {
    gid_t gid = 0;
    if (root.get(key, *out) && !control::groupId(*out, gid)) root.error(key, "no group named \"" + *out + "\"");
  }
}

}  // namespace hale
