#pragma once

// What the HTTP-driven actions (webhook, Route 53, Linode, OVH) share: a request bounded by the step's
// deadline and cancellation, and one rule for turning an answer into an ActionStatus:
//   no answer (connection refused, reset, timeout), 408, 429, 5xx   -> retryable, Retry-After honoured
//   2xx                                                               -> applied
//   anything else (400 validation, 401/403 auth, 404, 409, 422)       -> permanent
// Provider-specific codes that say "try again" inside a 4xx (Route 53's Throttling) are mapped by the
// provider before falling back to this rule.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "action.h"
#include "http_client.h"

namespace hale::aggregator {

// A request whose timeout is what is left until the step's deadline.
HttpRequest boundedRequest(const ActionRequest& r, std::string method, std::string url);

// `what` names the call in the detail ("PUT record 12"); `problem` is the provider's own error text, if any.
ActionResult classifyHttp(const HttpResponse& resp, std::string_view what, std::string_view problem = "");

// Retry-After as delta seconds (the form APIs use); 0 when absent or not a number.
std::chrono::milliseconds retryAfter(const HttpResponse& resp);

// The string at `key` of a JSON object; `fallback` when `j` is not an object or the value is not a string.
// API answers are read through this: a malformed answer must be an error, never an exception.
std::string jsonText(const nlohmann::json& j, const char* key, const std::string& fallback = "");

// The first line of `text`, at most `max` bytes, for a journal detail.
std::string excerpt(std::string_view text, size_t max = 160);

}  // namespace hale::aggregator
