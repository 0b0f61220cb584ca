#include "test_certificates.h"

#include <fstream>
#include <stdexcept>
#include <vector>

#include "process.h"

namespace hale::test {
namespace {

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const CommandResult r = runCommand(SpawnOptions{.argv = args}, std::chrono::milliseconds{20000});
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args[1] + " failed: " + r.output);
}

}  // namespace

TestCertificates::TestCertificates(const std::string& dir) {
  const std::string d = dir + "/";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto request = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> a = {"req"};
    a.insert(a.end(), ec.begin(), ec.end());
    a.insert(a.end(), {"-keyout", d + name + ".key", "-out", d + name + ".csr", "-subj", "/CN=" + cn});
    openssl(a);
  };
  std::vector<std::string> ca = {"req", "-x509"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  ca.insert(ca.end(), {"-keyout", d + "ca.key", "-out", d + "ca.pem", "-days", "1", "-subj", "/CN=hale-test-ca"});
  openssl(ca);
  request("server", "127.0.0.1");
  request("client", "hale");
  std::ofstream(d + "server.ext") << "subjectAltName=IP:127.0.0.1\n"
                                     "extendedKeyUsage=serverAuth,clientAuth\n";
  std::ofstream(d + "client.ext") << "extendedKeyUsage=clientAuth\n";
  for (const std::string name : {"server", "client"}) {
    openssl({"x509", "-req", "-in", d + name + ".csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key", "-CAcreateserial",
             "-out", d + name + ".pem", "-days", "1", "-extfile", d + name + ".ext"});
  }
  ca_file = d + "ca.pem";
  server_cert = d + "server.pem";
  server_key = d + "server.key";
  client_cert = d + "client.pem";
  client_key = d + "client.key";
}

}  // namespace hale::test
