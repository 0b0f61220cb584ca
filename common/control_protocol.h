#pragma once

// The control protocol between halectl and the daemons: JSON lines over a Unix stream socket.
// Versioned; both ends include this header. One request per line, one response line per request:
//   request   {"v":1,"id":7,"cmd":"status","args":{...}}        ("args" optional, an object)
//   success   {"v":1,"id":7,"ok":true,"result":<any JSON>}
//   failure   {"v":1,"id":7,"ok":false,"error":{"code":"unknown_command","message":"..."}}
// A response carries the id of its request (0 when the request could not be parsed far enough).
// Error codes are stable strings; the ones the transport itself produces are listed below.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "result.h"

namespace hale::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxLineBytes = size_t{64} * 1024;

namespace errc {
inline constexpr std::string_view bad_json = "bad_json";        // line is not a JSON object
inline constexpr std::string_view bad_request = "bad_request";  // JSON, but not a request
inline constexpr std::string_view unsupported_version = "unsupported_version";
inline constexpr std::string_view unknown_command = "unknown_command";
inline constexpr std::string_view bad_args = "bad_args";  // a handler refused its arguments
inline constexpr std::string_view line_too_long = "line_too_long";
inline constexpr std::string_view internal = "internal";          // a handler failed unexpectedly
inline constexpr std::string_view busy = "busy";                  // too many clients connected
inline constexpr std::string_view forbidden = "forbidden";        // the caller may read, not change
inline constexpr std::string_view unreachable = "unreachable";    // client: cannot connect
inline constexpr std::string_view timeout = "timeout";            // client: no answer in time
inline constexpr std::string_view bad_response = "bad_response";  // client: answer not understood
}  // namespace errc

struct Request {
  uint64_t id = 0;
  std::string cmd;
  nlohmann::json args = nlohmann::json::object();
};

std::string encodeRequest(const Request& request);
// Parses one line (without its newline). On failure the Error code is one of bad_json, bad_request,
// unsupported_version, and `id_out` holds the request's id when it could be read.
Result<Request> parseRequest(std::string_view line, uint64_t& id_out);

// JSON text with every invalid UTF-8 sequence replaced by U+FFFD: one odd byte in a journal entry or a
// node's message never turns an answer into an exception. Every JSON this protocol writes goes through it.
std::string dumpJson(const nlohmann::json& j, int indent = -1);

std::string encodeSuccess(uint64_t id, const nlohmann::json& result);
std::string encodeFailure(uint64_t id, std::string_view code, std::string_view message);
// The result of a success, or the Error carried by a failure (its message "(no message)" when it has none);
// bad_response if the line is neither: another request's id (a failure may have id 0, when the server could
// not read ours), an error code that is no name ([a-z][a-z0-9_]*, 64 at most), JSON nested deeper than 64.
Result<nlohmann::json> parseResponse(std::string_view line, uint64_t expected_id);

}  // namespace hale::control
