#include "aws_error.h"

#include <nlohmann/json.hpp>

namespace hale {
namespace {

std::string xmlElement(std::string_view body, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  const size_t b = body.find(open);
  if (b == std::string_view::npos) return {};
  const size_t start = b + open.size();
  const size_t e = body.find(close, start);
  return e == std::string_view::npos ? std::string() : std::string(body.substr(start, e - start));
}

}  // namespace

AwsError parseAwsError(std::string_view body) {
  AwsError e;
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    const auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
    e.code = str("__type");
    if (const size_t hash = e.code.rfind('#'); hash != std::string::npos) e.code = e.code.substr(hash + 1);
    e.message = str("message");
    if (e.message.empty()) e.message = str("Message");
    return e;
  }
  e.code = xmlElement(body, "Code");
  e.message = xmlElement(body, "Message");
  return e;
}

}  // namespace hale
