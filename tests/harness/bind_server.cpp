#include "bind_server.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "ports.h"

namespace hale::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

BindServer::BindServer(std::string zone) : zone_(std::move(zone)), dir_("bind", "bind") {}

BindServer::~BindServer() { kill(); }

void BindServer::kill() {
  if (process_) process_->stop(SIGKILL, seconds{5});
}

void BindServer::freeze() { process_->freeze(); }
void BindServer::thaw() { process_->thaw(); }

void BindServer::start() {
  const CommandResult keygen =
      runCommand(SpawnOptions{.argv = {"tsig-keygen", "-a", key_algorithm_, key_name_}}, seconds{10});
  std::smatch m;
  if (keygen.exit_code != 0 || !std::regex_search(keygen.output, m, std::regex("secret \"([^\"]+)\""))) {
    throw std::runtime_error("tsig-keygen failed:\n" + keygen.output);
  }
  key_secret_ = m[1];
  key_file_ = dir_.writeFile("tsig.key", keygen.output, 0640);

  dir_.writeFile("db." + zone_,
                 "$TTL 60\n"
                 "@ IN SOA ns." +
                     zone_ + ". hostmaster." + zone_ +
                     ". 1 3600 600 86400 60\n"
                     "@ IN NS ns." +
                     zone_ +
                     ".\n"
                     "ns IN A 127.0.0.1\n"
                     "app IN A 192.0.2.10\n");

  for (int attempt = 0;; ++attempt) {
    port_ = freeLoopbackPort(/*also_udp=*/true);
    const std::string& d = dir_.path();
    const std::string conf = dir_.writeFile("named.conf",
                                            "options {\n"
                                            "  directory \"" +
                                                d +
                                                "\";\n"
                                                "  pid-file \"" +
                                                d +
                                                "/named.pid\";\n"
                                                "  session-keyfile \"" +
                                                d +
                                                "/session.key\";\n"
                                                "  managed-keys-directory \"" +
                                                d +
                                                "\";\n"
                                                "  listen-on port " +
                                                std::to_string(port_) + " { 127.0.0.1; " +
                                                (also_listen_.empty() ? "" : also_listen_ + "; ") +
                                                "};\n"
                                                "  listen-on-v6 { none; };\n"
                                                "  recursion no;\n"
                                                "  notify no;\n"
                                                "  dnssec-validation no;\n"
                                                "};\n"
                                                "controls { };\n"  // no rndc channel: nothing else to collide with
                                                "include \"" +
                                                key_file_ +
                                                "\";\n"
                                                "zone \"" +
                                                zone_ +
                                                "\" {\n"
                                                "  type primary;\n"
                                                "  file \"" +
                                                d + "/db." + zone_ +
                                                "\";\n"
                                                "  update-policy { grant " +
                                                key_name_ +
                                                " zonesub ANY; };\n"
                                                "};\n");
    // Run as bind from the start (no -u): the process keeps the harness's death signal.
    process_ = std::make_unique<ChildProcess>(SpawnOptions{
        .argv = {"/usr/sbin/named", "-g", "-4", "-c", conf},
        .run_as = "bind",
        .log_path = d + "/named.log",
    });
    const bool ready = waitFor(
        [&] { return !process_->running() || lookup("app." + zone_) == std::vector<std::string>{"192.0.2.10"}; },
        seconds{20}, milliseconds{50});
    if (ready && process_->running()) return;
    const std::string log = process_->logTail(4000);
    process_.reset();
    if (attempt >= 2 || log.find("address in use") == std::string::npos) {
      throw std::runtime_error("named did not start:\n" + log);
    }
  }
}

std::vector<std::string> BindServer::lookup(const std::string& name, const std::string& type) const {
  const CommandResult r = runCommand(SpawnOptions{.argv = {"dig", "+short", "+time=1", "+tries=1", "-p",
                                                           std::to_string(port_), "@127.0.0.1", name, type}},
                                     seconds{5});
  std::vector<std::string> answers;
  if (r.exit_code != 0) return answers;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ';') answers.push_back(line);
  }
  std::sort(answers.begin(), answers.end());
  return answers;
}

CommandResult BindServer::nsupdate(const std::string& commands, bool sign) const {
  std::vector<std::string> argv = {"nsupdate"};
  if (sign) {
    argv.push_back("-k");
    argv.push_back(key_file_);
  }
  const std::string script = "server 127.0.0.1 " + std::to_string(port_) + "\n" + commands + "\nsend\n";
  return runCommand(SpawnOptions{.argv = argv}, seconds{10}, script);
}

}  // namespace hale::test
