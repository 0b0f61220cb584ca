#pragma once

// Stoplight Prism serving a published API contract (OpenAPI) on a free loopback port, in its static mode:
// every request is validated against the contract (422 with an `sl-violations` header when it breaks the
// schema, 401 without the declared auth header) and a valid one gets the contract's example answer.
// Prism is installed by packaging/install-deps.sh under /opt/hale-test/prism (or named by HALE_PRISM).
// The contracts are ../shared/contracts beside the source tree (or HALE_CONTRACTS_DIR).

#include <memory>
#include <string>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class PrismServer {
 public:
  // `contract`: a path inside the contracts directory, e.g. "linode/openapi.json", or an absolute path (a
  // contract a test derived from a published one).
  explicit PrismServer(std::string contract);
  ~PrismServer();

  void start();  // throws std::runtime_error with Prism's output on failure

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  // Prism's log so far: one line per request, violations included.
  std::string log() const;

  // The directory holding the published contracts; throws when it cannot be found.
  static std::string contractsDir();

 private:
  std::string contract_;
  uint16_t port_ = 0;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace hale::test
