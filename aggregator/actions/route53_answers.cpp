#include "route53_answers.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace hale::aggregator {
namespace {

// Every <tag>...</tag> in `doc`, in order. A leaf's text holds no markup ('<' is escaped in XML text), so
// for a leaf an opening tag whose text runs into another tag is not taken: the scan goes on from that tag.
std::vector<std::string_view> elements(std::string_view doc, std::string_view tag, bool leaf) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  for (size_t at = doc.find(open); at != std::string_view::npos; at = doc.find(open, at)) {
    const size_t begin = at + open.size();
    const size_t end = leaf ? doc.find('<', begin) : doc.find(close, begin);
    if (end == std::string_view::npos) break;
    if (leaf && doc.substr(end, close.size()) != close) {
      at = end;
      continue;
    }
    out.push_back(doc.substr(begin, end - begin));
    at = end + close.size();
  }
  return out;
}

std::string_view first(std::vector<std::string_view> all) { return all.empty() ? std::string_view{} : all.front(); }

std::string_view firstLeaf(std::string_view doc, std::string_view tag) { return first(xmlLeafTexts(doc, tag)); }

}  // namespace

std::vector<std::string_view> xmlTexts(std::string_view doc, std::string_view tag) { return elements(doc, tag, false); }

std::vector<std::string_view> xmlLeafTexts(std::string_view doc, std::string_view tag) {
  return elements(doc, tag, true);
}

std::string withDot(std::string_view name) {
  std::string out(name);
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

Route53RecordSet parseRecordSetAnswer(std::string_view body, const std::string& record, const std::string& type) {
  Route53RecordSet out;
  const std::string_view set = first(xmlTexts(body, "ResourceRecordSet"));
  if (set.empty() || withDot(firstLeaf(set, "Name")) != record || firstLeaf(set, "Type") != type) return out;
  out.exists = true;
  for (std::string_view v : xmlLeafTexts(set, "Value")) out.values.emplace_back(v);
  std::sort(out.values.begin(), out.values.end());
  const std::string ttl(firstLeaf(set, "TTL"));
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(ttl.c_str(), &end, 10);
  // A TTL that is not a whole number in range reads as 0: never equal to the configured one, so the
  // action writes the record instead of trusting it.
  out.ttl = (!ttl.empty() && errno == 0 && end != nullptr && *end == '\0' && parsed >= 0) ? parsed : 0;
  return out;
}

Route53Change parseChangeInfo(std::string_view body) {
  return {std::string(firstLeaf(body, "Id")), std::string(firstLeaf(body, "Status"))};
}

}  // namespace hale::aggregator
