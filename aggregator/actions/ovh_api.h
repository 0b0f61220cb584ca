#pragma once

// OVH API calls shared by the ovh_dns and ovh_iplb actions: the $1$ SHA-1 request signature, the clock
// offset learned from GET /auth/time (OVH refuses requests whose X-Ovh-Timestamp is off), JSON bodies,
// and OVH's error shape {class, message, errorCode}.
// Config keys read here:
//   endpoint = "ovh-eu" | "ovh-ca" | "ovh-us" | "https://..."   (a base URL including /1.0)
//   application_key = "..."   application_secret_file = "..."   consumer_key_file = "..."

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "action.h"
#include "config_reader.h"
#include "http_client.h"

namespace hale::aggregator {

// "$1$" + sha1_hex(secret+consumer+METHOD+url+body+timestamp, joined by "+"), as OVH specifies.
std::string ovhSignature(const std::string& app_secret, const std::string& consumer_key, const std::string& method,
                         const std::string& url, const std::string& body, int64_t timestamp);

// GET /auth/time's answer: the server's Unix time, or nullopt when the body is not a plausible one.
std::optional<int64_t> parseOvhServerTime(std::string_view body);

class OvhApi {
 public:
  // False (errors recorded in the table) when a key is missing or a secret file unreadable.
  bool read(ConfigTable& t);

  // NOLINTNEXTLINE(bugprone-exception-escape): its implicit moves only move a json and an optional
  struct Answer {
    nlohmann::json body;                  // the parsed 2xx answer (null when the answer had no body)
    std::optional<ActionResult> failure;  // set instead when the call did not succeed
  };
  // `path` starts after /1.0 ("/domain/zone/x/refresh"); `body` is sent as JSON when not null.
  Answer call(const ActionRequest& r, const std::string& method, const std::string& path, const nlohmann::json& body,
              const std::string& what);
  // How call() reads an answer, pure (fuzzed on its own): any status, headers and body give a result or a
  // classified failure; `clock_suspect` is set when OVH refused our timestamp.
  static Answer interpretAnswer(const HttpResponse& resp, const std::string& what, bool& clock_suspect);

 private:
  std::optional<ActionResult> learnClockOffset(const ActionRequest& r);

  std::string base_url_;
  std::string app_key_;
  std::string app_secret_;    // never logged
  std::string consumer_key_;  // never logged
  std::atomic<bool> offset_known_{false};
  std::atomic<int64_t> offset_{0};  // server time - local time, seconds
};

}  // namespace hale::aggregator
