// hale-agent: the hale health agent: runs checks, serves /healthz, publishes heartbeats.
// This entry point parses the command line; the service loop is built by its own issue and, until
// then, the binary says so instead of pretending to run.

#include <iostream>

#include "cli_args.h"
#include "hale/version.h"

namespace {

constexpr const char* kUsage = R"(usage: hale-agent [options]

The hale health agent: runs checks, serves /healthz, publishes heartbeats.

options:
  --config PATH     configuration file (default /etc/hale/agent.toml)
  --help            this text
  --version         print the version
)";

int run(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"help", "version"}, {"config"});
  if (!parsed) {
    std::cerr << "hale-agent: " << parsed.error().message << "\n(see hale-agent --help)\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    std::cout << kUsage;
    return hale::kExitOk;
  }
  if (args.has("version")) {
    std::cout << "hale-agent " << hale::kVersion << "\n";
    return hale::kExitOk;
  }
  if (!args.positional().empty()) {
    std::cerr << "hale-agent: unexpected argument \"" << args.positional()[0] << "\"\n";
    return hale::kExitUsage;
  }
  std::cerr << "hale-agent " << hale::kVersion << ": the service loop is not built yet in this version\n";
  return hale::kExitUnavailable;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape main unreported: an uncaught exception would abort without a word.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fatal: unknown exception\n";
  }
  return hale::kExitUnavailable;
}
