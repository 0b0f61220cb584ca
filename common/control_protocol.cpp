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

// Deeper JSON than any request (or answer) needs; copying or printing a value nests one call per level.
constexpr int kMaxRequestDepth = 16;
constexpr int kMaxResponseDepth = 64;

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

// Error codes are names: a lowercase letter, then lowercase letters, digits and underscores (errc::*).
bool isErrorCode(std::string_view code) {
  if (code.empty() || code.size() > 64 || code[0] < 'a' || code[0] > 'z') return false;
  return std::all_of(code.begin(), code.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
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
  auto bad = [](std::string why) { return makeError(std::string(errc::bad_response), std::move(why)); };
  if (nestingDepth(line, kMaxResponseDepth) > kMaxResponseDepth) {
    return bad("response nested deeper than " + std::to_string(kMaxResponseDepth) + " levels");
  }
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
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
  // A failure answers our request, or has id 0: the server could not read the request's id.
  if (id->get<uint64_t>() != expected_id && id->get<uint64_t>() != 0)
    return bad("response id does not match the request");
  const auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return bad("failure without an error object");
  const auto code = err->find("code");
  const auto message = err->find("message");
  // The code reaches the operator and scripts as the failure's name: an empty or odd one names nothing.
  if (code == err->end() || !code->is_string() || !isErrorCode(code->get_ref<const std::string&>())) {
    return bad("failure without an error code");
  }
  const bool said = message != err->end() && message->is_string() && !message->get_ref<const std::string&>().empty();
  return makeError(code->get<std::string>(), said ? message->get<std::string>() : std::string("(no message)"));
}

}  // namespace hale::control
