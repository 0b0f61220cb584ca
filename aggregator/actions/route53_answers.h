#pragma once

// Route 53's XML answers as the route53 action reads them, pure, so they are fuzzed on their own
// (tests/fuzz/provider_answers_fuzz.cpp). Route 53's answers are flat enough that the elements read here
// (Name, Type, TTL, Value, Id, Status) never nest in themselves, so a tag scan is enough; any body, XML
// or not, gives a result (an empty one when the elements are missing). A leaf whose text holds markup
// (a truncated or spliced answer) reads as absent rather than as the tags it ran over.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hale::aggregator {

struct Route53RecordSet {
  bool exists = false;
  std::vector<std::string> values;  // sorted
  int64_t ttl = 0;                  // 0 when absent or not a number
};

// The first record set of a ListResourceRecordSets answer, when it is `record` (with its final dot) of
// `type`: the list starts at name/type, so a first set of another name means the record does not exist.
Route53RecordSet parseRecordSetAnswer(std::string_view body, const std::string& record, const std::string& type);

// A ChangeInfo (ChangeResourceRecordSets or GetChange answer): the change id and PENDING / INSYNC.
struct Route53Change {
  std::string id;
  std::string status;
};
Route53Change parseChangeInfo(std::string_view body);

// The content of every <tag>...</tag> in `doc`, in order (children included).
std::vector<std::string_view> xmlTexts(std::string_view doc, std::string_view tag);
// The text of every leaf <tag>text</tag> in `doc`, in order: never markup.
std::vector<std::string_view> xmlLeafTexts(std::string_view doc, std::string_view tag);

// A DNS name with its final dot, as Route 53 writes names.
std::string withDot(std::string_view name);

}  // namespace hale::aggregator
