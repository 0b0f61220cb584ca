#include <iostream>

#include "commands.h"
#include "control_client.h"
#include "control_protocol.h"

namespace hale::cli {

bool callDaemon(const Context& ctx, const std::string& cmd, const nlohmann::json& args, nlohmann::json& result,
                int& exit_code) {
  auto r = control::call(ctx.socket, cmd, args, ctx.timeout);
  if (r) {
    result = std::move(r).value();
    return true;
  }
  const Error& e = r.error();
  if (ctx.json) {
    std::cout << control::dumpJson(nlohmann::json{{"error", {{"code", e.code}, {"message", e.message}}}}) << "\n";
  } else {
    // Policy reasons already start with their verdict ("refused: ..."): do not say it twice.
    const bool prefixed = e.message.rfind(e.code + ":", 0) == 0;
    std::cerr << "halectl: " << (prefixed ? "" : e.code + ": ") << e.message << "\n";
  }
  const bool transport = e.code == control::errc::unreachable || e.code == control::errc::timeout ||
                         e.code == control::errc::bad_response || e.code == control::errc::busy;
  exit_code = transport ? kExitUnavailable : kExitFailure;
  return false;
}

int rawCall(const Context& ctx) {
  const auto& pos = ctx.args.positional();
  if (pos.size() < 2 || pos.size() > 3) {
    std::cerr << "halectl: raw needs a command and optional JSON arguments\n";
    return kExitUsage;
  }
  nlohmann::json args = nlohmann::json::object();
  if (pos.size() == 3) {
    args = nlohmann::json::parse(pos[2], nullptr, false);
    if (args.is_discarded() || !args.is_object()) {
      std::cerr << "halectl: arguments must be a JSON object\n";
      return kExitUsage;
    }
  }
  nlohmann::json result;
  int code = kExitOk;
  if (!callDaemon(ctx, pos[1], args, result, code)) return code;
  std::cout << (ctx.json ? control::dumpJson(result) : control::dumpJson(result, 2)) << "\n";
  return kExitOk;
}

}  // namespace hale::cli
