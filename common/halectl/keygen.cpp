// halectl keygen: a CurveZMQ keypair for an agent or an aggregator, written as two files. It needs no
// daemon, so it runs where the key will live (the secret never travels).

#include <iostream>

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
  auto keys = curve::generate();
  if (!keys) {
    std::cerr << "halectl: " << keys.error().message << "\n";
    return kExitFailure;
  }
  if (auto written = curve::writeKeypair(base, keys.value()); !written) {
    std::cerr << "halectl: " << written.error().message << "\n";
    return kExitFailure;
  }
  if (ctx.json) {
    std::cout << nlohmann::json{{"secret_key_file", base + ".key"},
                                {"public_key_file", base + ".pub"},
                                {"public_key", keys.value().public_key}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::cout << "secret key: " << base << ".key (mode 0600; give it to the daemon's user: chown hale " << base
            << ".key)\n"
            << "public key: " << base << ".pub\n"
            << keys.value().public_key << "\n"
            << "An agent's public key goes into each aggregator's [agent_keys] (<node-id> = \"<key>\"); an "
               "aggregator's into each agent's [[aggregator]] public_key.\n";
  return kExitOk;
}

}  // namespace hale::cli
