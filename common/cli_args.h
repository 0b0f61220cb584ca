#pragma once

// Command-line parsing shared by hale-agent, hale-aggregator and halectl: long options only
// ("--name", "--name value", "--name=value"), "--" ends options, everything else is positional.
// Options must be declared, so a typo is an error rather than a silently ignored word.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace hale {

class CliArgs {
 public:
  // `flags` take no value; `valued` take exactly one. Names are given without the leading "--".
  static Result<CliArgs> parse(int argc, const char* const* argv, std::initializer_list<std::string_view> flags,
                               std::initializer_list<std::string_view> valued);

  bool has(std::string_view flag) const;
  std::optional<std::string> value(std::string_view option) const;
  std::string valueOr(std::string_view option, std::string fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::vector<std::string> flags_;
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> positional_;
};

// Exit codes every hale binary uses (sysexits-style where one fits).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // the command ran and the answer is "bad" (unhealthy, refused)
inline constexpr int kExitUnavailable = 2;  // could not do it at all (daemon unreachable, invalid config)
inline constexpr int kExitUsage = 64;       // wrong command line

}  // namespace hale
