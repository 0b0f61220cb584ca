#pragma once

// One-shot client for the control protocol: connect, send one request, read one response, all within a
// deadline. Error codes: unreachable (no server at the path), timeout, bad_response, or the server's own.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "result.h"

namespace hale::control {

Result<nlohmann::json> call(const std::string& socket_path, const std::string& cmd,
                            const nlohmann::json& args = nlohmann::json::object(),
                            std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

}  // namespace hale::control
