#pragma once

// BIND `named` serving one primary zone on a free loopback port (UDP and TCP), accepting RFC 2136
// updates signed with a TSIG key (hmac-sha256) and refusing unsigned ones. The zone starts with
//   app.<zone>. 60 IN A 192.0.2.10
// start() returns once the zone answers.

#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class BindServer {
 public:
  explicit BindServer(std::string zone = "hale.test");
  ~BindServer();

  // Also answer on `address` (a NetworkFabric's host side, for clients in its namespaces). Before start().
  void listenAlso(std::string address) { also_listen_ = std::move(address); }
  void start();  // throws std::runtime_error with named's output on failure

  uint16_t port() const { return port_; }
  const std::string& zone() const { return zone_; }
  const std::string& keyName() const { return key_name_; }
  const std::string& keyAlgorithm() const { return key_algorithm_; }
  const std::string& keySecret() const { return key_secret_; }  // base64
  // A file in nsupdate's -k format holding the key.
  const std::string& keyFile() const { return key_file_; }

  // The answers to `name` of `type`, as printed by `dig +short` (one per element, sorted).
  std::vector<std::string> lookup(const std::string& name, const std::string& type = "A") const;
  // Runs nsupdate with `commands` (the "server" line is added); signed with the key when `sign`.
  // Returns nsupdate's exit code and output.
  CommandResult nsupdate(const std::string& commands, bool sign = true) const;

  void kill();
  // SIGSTOP / SIGCONT named: queries and updates go unanswered, as with a stalled DNS server.
  void freeze();
  void thaw();

 private:
  std::string zone_;
  std::string key_name_ = "hale-test-key";
  std::string key_algorithm_ = "hmac-sha256";
  std::string key_secret_;
  std::string key_file_;
  uint16_t port_ = 0;
  std::string also_listen_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace hale::test
