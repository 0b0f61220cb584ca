#pragma once

// A private CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl command
// in a directory of the caller's, valid one day: for tests of TLS clients (etcd, DynamoDB) against real
// servers. Throws std::runtime_error when openssl fails.

#include <string>

namespace hale::test {

struct TestCertificates {
  explicit TestCertificates(const std::string& dir);

  std::string ca_file;      // the CA's certificate (PEM)
  std::string server_cert;  // for IP 127.0.0.1, signed by the CA
  std::string server_key;
  std::string client_cert;  // CN hale, signed by the CA
  std::string client_key;
};

}  // namespace hale::test
