#pragma once

// Serves the control protocol (control_protocol.h) on a Unix stream socket, from one background thread.
// Commands are registered explicitly by name; every failure (bad JSON, unknown command, a handler's
// Error or exception, an over-long line) becomes a failure response in one place, is counted, and never
// stops the server. Handlers run on the server thread: they must be quick and only read snapshots.
//
// Who may do what: the socket file is created 0660 with no window of a wider mode (umask around bind),
// owned by `group`; whoever can connect may run read commands. Commands that change anything (registered
// with addAdminCommand) are for root, the daemon's own user and members of `admin_group` only; the server
// reads each connection's peer with SO_PEERCRED and hands the caller to those handlers, so what they
// journal names who asked. A client gets `client_deadline` in all (not renewed by each byte), a request
// line is refused as soon as it outgrows the limit, and one user holds at most `max_clients_per_uid`
// connections, so a few slow clients cannot lock operators out.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "result.h"

namespace hale::control {

using Handler = std::function<Result<nlohmann::json>(const nlohmann::json& args)>;

// Who is on the other end of a connection (SO_PEERCRED), as an admin handler sees it.
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::string user;  // the user name, or the uid as text when it has none

  // "alice (uid 1000)", for journals and logs.
  std::string describe() const;
};
using AdminHandler = std::function<Result<nlohmann::json>(const nlohmann::json& args, const Caller& caller)>;

struct ServerOptions {
  std::string path;                                   // socket path (at most 107 bytes)
  unsigned mode = 0660;                               // file mode of the socket
  std::string group;                                  // group of the socket file; empty: the daemon's own
  std::string admin_group;                            // besides root and the daemon's user, may run admin commands
  size_t max_clients = 64;                            // further connections are answered "busy" and closed
  size_t max_clients_per_uid = 8;                     // ... and so are a user's beyond this many
  std::chrono::milliseconds client_deadline{10'000};  // a connection's whole life, however it trickles
};

struct ServerCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failures{0};         // failure responses of any kind
  std::atomic<uint64_t> protocol_errors{0};  // bad_json, bad_request, unsupported_version, line_too_long
  std::atomic<uint64_t> rejected_clients{0};
  std::atomic<uint64_t> forbidden{0};        // admin commands refused to a caller who may only read
  std::atomic<uint64_t> expired_clients{0};  // dropped at client_deadline
};

class ControlServer {
 public:
  ControlServer();
  ~ControlServer();  // stops the thread and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Registers a read command before start(). A built-in "help" lists the commands and summaries.
  void addCommand(const std::string& name, std::string summary, Handler handler);
  // Registers a command that changes something: root, the daemon's user and admin_group only.
  void addAdminCommand(const std::string& name, std::string summary, AdminHandler handler);

  // Binds and starts serving. Fails if the path is too long, its directory is missing, or another live
  // server answers on it; a stale socket file left by a dead process is replaced.
  Result<void> start(const ServerOptions& options);
  void stop();

  const ServerCounters& counters() const { return counters_; }

 private:
  struct Command {
    std::string summary;
    AdminHandler handler;
    bool admin = false;
  };
  struct Client;

  void run();
  std::string dispatch(std::string_view line, const Client& client);
  bool serviceClient(Client& client);
  void answerLines(Client& client);
  bool flush(Client& client);
  void accept(std::vector<std::unique_ptr<Client>>& clients, std::chrono::steady_clock::time_point now);
  bool mayAdminister(const Caller& caller) const;
  // User names by uid, looked up once (NSS may be slow); bounded.
  std::string cachedUserName(uint32_t uid);
  std::map<uint32_t, std::string> user_names_;

  std::map<std::string, Command, std::less<>> commands_;
  ServerOptions options_;
  ServerCounters counters_;
  int listen_fd_ = -1;
  uint32_t admin_gid_ = 0;
  bool has_admin_group_ = false;
  int wake_fd_ = -1;  // eventfd that stop() signals
  std::thread thread_;
};

}  // namespace hale::control

namespace hale {
class ConfigTable;
// Reads `control_group` and `admin_group` (both optional; each must name an existing group).
void readControlGroups(ConfigTable& root, std::string& control_group, std::string& admin_group);
}  // namespace hale
