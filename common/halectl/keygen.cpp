// halectl keygen: a CurveZMQ keypair for an agent or an aggregator, written as two files. It needs no
// daemon, so it runs where the key will live (the secret never travels).

#include <grp.h>

#include <iostream>
#include <optional>

#include "commands.h"
#include "curve_keys.h"

namespace hale::cli {

int keygen(const Context& ctx) {
  const auto& pos = ctx.args.positional();
  if (pos.size() != 2) {
    std::cerr << "halectl: keygen needs one argument, the path of the files to write without extension "
                 "(e.g. /etc/hale/agent writes /etc/hale/agent.key and /etc/hale/agent.pub)\n";
    return kExitUsage;
  }
  const std::string& base = pos[1];
  // --group: the daemon runs as another user (hale) than the one making its key (root); the secret is
  // then group-readable by that group only, which the daemons accept (never readable by others).
  const std::optional<std::string> group = ctx.args.value("group");
  gid_t gid = 0;
  if (group) {
    const struct group* g = ::getgrnam(group->c_str());
    if (g == nullptr) {
      std::cerr << "halectl: keygen --group: no group named \"" << *group << "\"\n";
      return kExitUsage;
    }
    gid = g->gr_gid;
  }
  auto keys = curve::generate();
  if (!keys) {
    std::cerr << "halectl: " << keys.error().message << "\n";
    return kExitFailure;
  }
  const std::optional<gid_t> secret_group = group ? std::optional<gid_t>(gid) : std::nullopt;
  if (auto written = curve::writeKeypair(base, keys.value(), secret_group); !written) {
    std::cerr << "halectl: " << written.error().message << "\n";
    return kExitFailure;
  }
  const std::string secret = base + ".key";
  if (ctx.json) {
    std::cout << nlohmann::json{{"secret_key_file", base + ".key"},
                                {"public_key_file", base + ".pub"},
                                {"public_key", keys.value().public_key}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  if (group) {
    std::cout << "secret key: " << secret << " (mode 0640, group " << *group << ")\n";
  } else {
    std::cout << "secret key: " << secret << " (mode 0600; for a daemon running as hale: --group hale)\n";
  }
  std::cout << "public key: " << base << ".pub\n"
            << keys.value().public_key << "\n"
            << "An agent's public key goes into each aggregator's [agent_keys] (<node-id> = \"<key>\"); an "
               "aggregator's into each agent's [[aggregator]] public_key.\n";
  return kExitOk;
}

}  // namespace hale::cli
