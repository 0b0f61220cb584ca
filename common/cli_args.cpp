#include "cli_args.h"

#include <algorithm>

namespace hale {
namespace {

bool contains(std::initializer_list<std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<CliArgs> CliArgs::parse(int argc, const char* const* argv, std::initializer_list<std::string_view> flags,
                               std::initializer_list<std::string_view> valued) {
  CliArgs args;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (options_done || arg.size() < 3 || arg.substr(0, 2) != "--") {
      if (arg == "--") {
        options_done = true;
        continue;
      }
      args.positional_.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (const size_t eq = name.find('='); eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (contains(flags, name)) {
      if (inline_value) return makeError("usage", "option --" + std::string(name) + " takes no value");
      args.flags_.emplace_back(name);
    } else if (contains(valued, name)) {
      if (inline_value) {
        args.values_.emplace_back(name, *inline_value);
      } else if (i + 1 < argc) {
        args.values_.emplace_back(name, argv[++i]);
      } else {
        return makeError("usage", "option --" + std::string(name) + " needs a value");
      }
    } else {
      return makeError("usage", "unknown option --" + std::string(name));
    }
  }
  return args;
}

bool CliArgs::has(std::string_view flag) const { return std::find(flags_.begin(), flags_.end(), flag) != flags_.end(); }

std::optional<std::string> CliArgs::value(std::string_view option) const {
  // The last occurrence wins, as with most Unix tools.
  for (auto it = values_.rbegin(); it != values_.rend(); ++it) {
    if (it->first == option) return it->second;
  }
  return std::nullopt;
}

std::string CliArgs::valueOr(std::string_view option, std::string fallback) const {
  auto v = value(option);
  return v ? *v : std::move(fallback);
}

}  // namespace hale
