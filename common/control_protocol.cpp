#include "control_protocol.h"

#include <algorithm>

#include "secret_file.h"

namespace hale::control {

std::string dumpJson(const nlohmann::json& j, int indent) {
  return redactSecrets(j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string encodeRequest(const Request& request) {
  nlohmann::json j{{"v", kProtocolVersion}, {"id", request.id}, {"cmd", request.cmd}};
  if (!request.args.empty()) j["args"] = request.args;
  return dumpJson(j) + "\n";
}

namespace {

// Deeper JSON than any request needs; copying or printing a value nests one call per level.
constexpr int kMaxRequestDepth = 16;

// The deepest nesting of arrays and objects in `text` (strings skipped), stopping past `limit`.
int nestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<Request> parseRequest(std::string_view line, uint64_t& id_out) {
  id_out = 0;
  if (nestingDepth(line, kMaxRequestDepth) > kMaxRequestDepth) {
    return makeError(std::string(errc::bad_request),
                     "request nested deeper than " + std::to_string(kMaxRequestDepth) + " levels");
  }
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return makeError(std::string(errc::bad_json), "request is not a JSON object");
  if (const auto it = j.find("id"); it != j.end() && it->is_number_unsigned()) id_out = it->get<uint64_t>();
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer())
    return makeError(std::string(errc::bad_request), "missing integer \"v\"");
  if (v->get<int64_t>() != kProtocolVersion) {
    return makeError(std::string(errc::unsupported_version), "protocol version " + v->dump() +
                                                                 " is not supported (this side speaks " +
                                                                 std::to_string(kProtocolVersion) + ")");
  }
  const auto id = j.find("id");
  if (id == j.end() || !id->is_number_unsigned())
    return makeError(std::string(errc::bad_request), "missing unsigned \"id\"");
  const auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string() || cmd->get_ref<const std::string&>().empty()) {
    return makeError(std::string(errc::bad_request), "missing string \"cmd\"");
  }
  Request r;
  r.id = id->get<uint64_t>();
  r.cmd = cmd->get<std::string>();
  if (const auto args = j.find("args"); args != j.end()) {
    if (!args->is_object()) return makeError(std::string(errc::bad_request), "\"args\" must be an object");
    r.args = *args;
  }
  return r;
}

std::string encodeSuccess(uint64_t id, const nlohmann::json& result) {
  return dumpJson(nlohmann::json{{"v", kProtocolVersion}, {"id", id}, {"ok", true}, {"result", result}}) + "\n";
}

std::string encodeFailure(uint64_t id, std::string_view code, std::string_view message) {
  const nlohmann::json j{{"v", kProtocolVersion},
                         {"id", id},
                         {"ok", false},
                         {"error", {{"code", std::string(code)}, {"message", std::string(message)}}}};
  return dumpJson(j) + "\n";
}

Result<nlohmann::json> parseResponse(std::string_view line, uint64_t expected_id) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  auto bad = [](std::string why) { return makeError(std::string(errc::bad_response), std::move(why)); };
  if (j.is_discarded() || !j.is_object()) return bad("response is not a JSON object");
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != kProtocolVersion) {
    return bad("response has an unsupported protocol version");
  }
  const auto id = j.find("id");
  if (id == j.end() || !id->is_number_unsigned()) return bad("response has no id");
  const auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return bad("response has no \"ok\"");
  if (ok->get<bool>()) {
    if (id->get<uint64_t>() != expected_id) return bad("response id does not match the request");
    const auto result = j.find("result");
    return result == j.end() ? nlohmann::json() : *result;
  }
  // Errors are returned even when the id is 0: the server could not read the request's id.
  const auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return bad("failure without an error object");
  const auto code = err->find("code");
  const auto message = err->find("message");
  // An empty code would reach the operator as a failure that names nothing.
  if (code == err->end() || !code->is_string() || code->get_ref<const std::string&>().empty()) {
    return bad("failure without an error code");
  }
  return makeError(code->get<std::string>(),
                   message != err->end() && message->is_string() ? message->get<std::string>() : std::string());
}

}  // namespace hale::control
