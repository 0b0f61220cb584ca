#pragma once

// moto_server (AWS DynamoDB, Route 53, IAM, ... wire APIs) on a free loopback port. It checks no
// signature unless IAM mode is switched on (enableIamAuth); SigV4 requests are accepted either way.

#include <memory>
#include <string>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class MotoServer {
 public:
  // Dummy credentials moto accepts while IAM mode is off.
  static constexpr const char* kAccessKey = "AKIAHALETEST00000000";
  static constexpr const char* kSecretKey = "hale-test-secret";

  MotoServer();
  ~MotoServer();

  // Before start(): serve HTTPS with this certificate (for 127.0.0.1) and key; `ca_file` verifies it.
  void useTls(std::string cert_file, std::string key_file, std::string ca_file);
  void start();  // throws std::runtime_error with moto's output on failure

  uint16_t port() const { return port_; }
  std::string endpoint() const {
    return (cert_file_.empty() ? "http://" : "https://") + std::string("127.0.0.1:") + std::to_string(port_);
  }

  struct AccessKey {
    std::string id;
    std::string secret;
  };
  // Creates an IAM user with an access key, then turns on moto's signature checking: from then on only
  // that key's correctly signed requests are accepted.
  AccessKey enableIamAuth();

  // Creates a Route 53 hosted zone and returns its id (without "/hostedzone/").
  std::string createHostedZone(const std::string& name, const AccessKey& key = {kAccessKey, kSecretKey});
  // Request lines moto has logged so far that contain `needle` (e.g. "POST /2013-04-01/hostedzone/").
  int requestsLogged(const std::string& needle) const;

  void kill();

 private:
  uint16_t port_ = 0;
  std::string cert_file_;
  std::string key_file_;
  std::string ca_file_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace hale::test
