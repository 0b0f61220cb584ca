#pragma once

// Linode API v4 calls shared by the linode_dns and linode_nodebalancer actions: bearer token from a secret
// file, JSON bodies, and Linode's error shape {"errors":[{"field","reason"}]} in the journal detail.
// Config keys read here: api_url (default https://api.linode.com/v4) and token_file.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "action.h"
#include "config_reader.h"
#include "http_client.h"

namespace hale::aggregator {

struct LinodeEndpoint {
  std::string api_url = "https://api.linode.com/v4";
  std::string token;  // never logged
};

// False (errors recorded in the table) when api_url or token_file is unusable.
bool readLinodeEndpoint(ConfigTable& t, LinodeEndpoint& out);

// NOLINTNEXTLINE(bugprone-exception-escape): its implicit moves only move a json and an optional
struct LinodeAnswer {
  nlohmann::json body;                  // the parsed 2xx answer
  std::optional<ActionResult> failure;  // set instead when the call did not succeed
};

// `body` is sent as JSON when not null. `what` names the call in details ("PUT record 12").
LinodeAnswer linodeCall(const ActionRequest& r, const LinodeEndpoint& api, const std::string& method,
                        const std::string& path, const nlohmann::json& body, const std::string& what);
// How linodeCall reads an answer, pure (fuzzed on its own): any status, headers and body give a JSON object
// or a classified failure.
LinodeAnswer linodeAnswer(const HttpResponse& resp, const std::string& what);

}  // namespace hale::aggregator
