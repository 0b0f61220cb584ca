#include "moto_server.h"

#include <fstream>
#include <regex>
#include <stdexcept>
#include <vector>

#include "http_client.h"
#include "ports.h"

namespace hale::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

MotoServer::MotoServer() : dir_("moto") {}
MotoServer::~MotoServer() { kill(); }

void MotoServer::kill() {
  if (process_) process_->stop(SIGTERM, seconds{5});
}

void MotoServer::useTls(std::string cert_file, std::string key_file, std::string ca_file) {
  cert_file_ = std::move(cert_file);
  key_file_ = std::move(key_file);
  ca_file_ = std::move(ca_file);
}

void MotoServer::start() {
  // On PATH, in the machine image's Python (pyenv), or in the virtualenv packaging/install-deps.sh makes
  // where neither has one.
  const std::string venv = testToolsPrefix() + "/moto/bin";
  const std::string moto = findExecutable("moto_server", {"/root/.pyenv/shims", "/usr/local/bin", venv});
  if (moto.empty())
    throw std::runtime_error("moto_server not found in PATH, the image's Python or " + venv +
                             " (packaging/install-deps.sh installs it)");
  for (int attempt = 0;; ++attempt) {
    port_ = freeLoopbackPort();
    std::vector<std::string> argv = {moto, "-H", "127.0.0.1", "-p", std::to_string(port_)};
    if (!cert_file_.empty()) argv.insert(argv.end(), {"-c", cert_file_, "-k", key_file_});
    process_ = std::make_unique<ChildProcess>(SpawnOptions{.argv = argv, .log_path = dir_.path() + "/moto.log"});
    const bool ready = waitFor(
        [&] {
          return !process_->running() ||
                 httpPerform(
                     {.url = endpoint() + "/moto-api/data.json", .timeout = milliseconds{500}, .ca_file = ca_file_})
                         .status == 200;
        },
        seconds{30}, milliseconds{50});
    if (ready && process_->running()) return;
    const std::string log = process_->logTail();
    process_.reset();
    if (attempt >= 2 || log.find("in use") == std::string::npos) {
      throw std::runtime_error("moto_server did not start:\n" + log);
    }
  }
}

MotoServer::AccessKey MotoServer::enableIamAuth() {
  auto iam = [&](const std::string& body) {
    HttpResponse r = httpPerform({.method = "POST",
                                  .url = endpoint() + "/",
                                  .headers = {"Content-Type: application/x-www-form-urlencoded"},
                                  .body = body + "&Version=2010-05-08",
                                  .aws_sigv4 = "aws:amz:us-east-1:iam",
                                  .userpwd = std::string(kAccessKey) + ":" + kSecretKey});
    if (r.status != 200) throw std::runtime_error("moto IAM call failed (" + std::to_string(r.status) + "): " + r.body);
    return r.body;
  };
  iam("Action=CreateUser&UserName=hale");
  // Full access for this user (an inline policy: moto does not preload AWS managed policies). The tests
  // exercise authentication, not IAM policy.
  iam("Action=PutUserPolicy&UserName=hale&PolicyName=all&PolicyDocument="
      "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
      "%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D");
  const std::string created = iam("Action=CreateAccessKey&UserName=hale");
  std::smatch id;
  std::smatch secret;
  if (!std::regex_search(created, id, std::regex("<AccessKeyId>([^<]+)</AccessKeyId>")) ||
      !std::regex_search(created, secret, std::regex("<SecretAccessKey>([^<]+)</SecretAccessKey>"))) {
    throw std::runtime_error("moto CreateAccessKey answer not understood: " + created);
  }
  const HttpResponse on = httpPerform({.method = "POST",
                                       .url = endpoint() + "/moto-api/reset-auth",
                                       .headers = {"Content-Type: text/plain"},
                                       .body = "0"});
  if (on.status != 200) throw std::runtime_error("moto reset-auth failed: " + on.body);
  return AccessKey{id[1], secret[1]};
}

std::string MotoServer::createHostedZone(const std::string& name, const AccessKey& key) {
  const HttpResponse r =
      httpPerform({.method = "POST",
                   .url = endpoint() + "/2013-04-01/hostedzone",
                   .headers = {"Content-Type: text/xml"},
                   .body = "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/"
                           "2013-04-01/\"><Name>" +
                           name + "</Name><CallerReference>" + name + "</CallerReference></CreateHostedZoneRequest>",
                   .aws_sigv4 = "aws:amz:us-east-1:route53",
                   .userpwd = key.id + ":" + key.secret});
  std::smatch id;
  if (r.status != 201 || !std::regex_search(r.body, id, std::regex("<Id>/hostedzone/([^<]+)</Id>")))
    throw std::runtime_error("moto CreateHostedZone failed (" + std::to_string(r.status) + "): " + r.body);
  return id[1];
}

int MotoServer::requestsLogged(const std::string& needle) const {
  std::ifstream in(dir_.path() + "/moto.log");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

}  // namespace hale::test
