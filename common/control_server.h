#pragma once

// Serves the control protocol (control_protocol.h) on a Unix stream socket, from one background thread.
// Commands are registered explicitly by name; every failure (bad JSON, unknown command, a handler's
// Error or exception, an over-long line) becomes a failure response in one place, is counted, and never
// stops the server. Handlers run on the server thread: they must be quick and only read snapshots.

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

struct ServerOptions {
  std::string path;                                // socket path (at most 107 bytes)
  unsigned mode = 0660;                            // file mode of the socket
  size_t max_clients = 32;                         // further connections are accepted and closed at once
  std::chrono::milliseconds idle_timeout{30'000};  // a client silent this long is dropped
};

struct ServerCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failures{0};         // failure responses of any kind
  std::atomic<uint64_t> protocol_errors{0};  // bad_json, bad_request, unsupported_version, line_too_long
  std::atomic<uint64_t> rejected_clients{0};
};

class ControlServer {
 public:
  ControlServer();
  ~ControlServer();  // stops the thread and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Registers `name` before start(). A built-in "help" lists the registered commands and summaries.
  void addCommand(const std::string& name, std::string summary, Handler handler);

  // Binds and starts serving. Fails if the path is too long, its directory is missing, or another live
  // server answers on it; a stale socket file left by a dead process is replaced.
  Result<void> start(const ServerOptions& options);
  void stop();

  const ServerCounters& counters() const { return counters_; }

 private:
  struct Command {
    std::string summary;
    Handler handler;
  };
  struct Client;

  void run();
  std::string dispatch(std::string_view line);
  bool serviceClient(Client& client);

  std::map<std::string, Command, std::less<>> commands_;
  ServerOptions options_;
  ServerCounters counters_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that stop() signals
  std::thread thread_;
};

}  // namespace hale::control
