#include "prism_server.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "http_client.h"
#include "ports.h"

namespace hale::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

PrismServer::PrismServer(std::string contract) : contract_(std::move(contract)), dir_("prism") {}

PrismServer::~PrismServer() {
  if (process_) process_->stop(SIGTERM, seconds{5});
}

std::string PrismServer::contractsDir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("HALE_CONTRACTS_DIR")) candidates.emplace_back(env);
  candidates.emplace_back(std::string(HALE_SOURCE_DIR) + "/../shared/contracts");
  candidates.emplace_back("/work/shared/contracts");
  for (const std::string& c : candidates) {
    if (::access((c + "/linode/openapi.json").c_str(), R_OK) == 0) return c;
  }
  throw std::runtime_error(
      "the published API contracts were not found (looked in ../shared/contracts beside the "
      "source tree and /work/shared/contracts; set HALE_CONTRACTS_DIR)");
}

void PrismServer::start() {
  std::string prism;
  if (const char* env = std::getenv("HALE_PRISM")) prism = env;
  if (prism.empty()) prism = testToolsPrefix() + "/prism/node_modules/.bin/prism";
  if (::access(prism.c_str(), X_OK) != 0)
    throw std::runtime_error("prism not found at " + prism + " (packaging/install-deps.sh installs it)");
  const std::string spec = contract_.starts_with("/") ? contract_ : contractsDir() + "/" + contract_;
  for (int attempt = 0;; ++attempt) {
    port_ = freeLoopbackPort();
    process_ = std::make_unique<ChildProcess>(SpawnOptions{
        .argv = {prism, "mock", "-h", "127.0.0.1", "-p", std::to_string(port_), spec},
        .log_path = dir_.path() + "/prism.log",
    });
    // Any HTTP answer (404 for "/") means it is listening with the contract loaded.
    const bool ready = waitFor(
        [&] {
          return !process_->running() || httpPerform({.url = url("/"), .timeout = milliseconds{500}}).status != 0;
        },
        seconds{60}, milliseconds{100});
    if (ready && process_->running()) return;
    const std::string log = process_->logTail();
    process_.reset();
    if (attempt >= 2 || log.find("EADDRINUSE") == std::string::npos)
      throw std::runtime_error("prism did not start:\n" + log);
  }
}

std::string PrismServer::log() const {
  std::ifstream in(dir_.path() + "/prism.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace hale::test
