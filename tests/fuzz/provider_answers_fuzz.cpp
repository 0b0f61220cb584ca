// Answers from servers hale talks to: AWS error bodies (JSON for DynamoDB, XML for Route 53), etcd's range
// and transaction answers, Linode and OVH answers as their API clients read them (status, Retry-After,
// body), OVH's server time, and Route 53's record-set and change answers. Any answer yields a result or a
// named, classified failure, never a crash; the first byte picks the parser, the second the HTTP status.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws_error.h"
#include "etcd_client.h"
#include "http_outcome.h"
#include "linode_api.h"
#include "ovh_api.h"
#include "route53_answers.h"

using namespace hale;
using namespace hale::aggregator;

namespace {

// An HTTP answer from fuzz bytes: a status, a Retry-After header value up to the first newline, the body.
HttpResponse responseFrom(uint8_t status_byte, std::string_view rest) {
  static constexpr long kStatuses[] = {0, 200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504};
  HttpResponse r;
  r.status = kStatuses[status_byte % (sizeof kStatuses / sizeof kStatuses[0])];
  const size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) {
    r.headers.emplace_back("retry-after", std::string(rest.substr(0, nl)));
    r.headers.emplace_back("x-ovh-queryid", std::string(rest.substr(0, nl)));
    rest.remove_prefix(nl + 1);
  }
  r.body = std::string(rest);
  return r;
}

// A failure must say what failed; a success must carry what the callers read.
void checkFailure(const std::optional<ActionResult>& failure, const std::string& what) {
  if (!failure) return;
  if (failure->status == ActionStatus::applied || failure->status == ActionStatus::already_applied) std::abort();
  if (failure->detail.rfind(what, 0) != 0) std::abort();
}

}  // namespace

// libFuzzer names the entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT(readability-identifier-naming)
  if (size < 2) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 8) {
    case 0: {
      const AwsError e = parseAwsError(body);
      if (e.code.size() > body.size() || e.message.size() > body.size()) std::abort();  // taken from the body
      break;
    }
    case 1: {
      auto kvs = etcd::parseRangeAnswer(body);
      if (!kvs && kvs.error().code != "etcd_malformed") std::abort();
      break;
    }
    case 2: {
      auto txn = etcd::parseTxnAnswer(body);
      if (!txn && txn.error().code != "etcd_malformed") std::abort();
      break;
    }
    case 3: {
      const HttpResponse resp = responseFrom(data[1], body);
      const LinodeAnswer a = linodeAnswer(resp, "PUT record 12");
      checkFailure(a.failure, "PUT record 12");
      if (!a.failure && !a.body.is_object()) std::abort();  // the actions index it as an object
      (void)jsonText(a.body, "target", "");
      break;
    }
    case 4: {
      const HttpResponse resp = responseFrom(data[1], body);
      bool clock_suspect = false;
      const OvhApi::Answer a = OvhApi::interpretAnswer(resp, "GET record 5", clock_suspect);
      checkFailure(a.failure, "GET record 5");
      if (!a.failure && a.body.is_discarded()) std::abort();
      if (a.body.is_object()) (void)jsonText(a.body, "status", "");
      break;
    }
    case 5: {
      const auto t = parseOvhServerTime(body);
      if (t && (*t < 946684800 || *t > 7258118400)) std::abort();
      break;
    }
    case 6: {
      const Route53RecordSet set = parseRecordSetAnswer(body, "app.example.com.", "A");
      if (!set.exists && (!set.values.empty() || set.ttl != 0)) std::abort();
      if (set.ttl < 0) std::abort();
      for (const std::string& v : set.values)
        if (v.size() > body.size()) std::abort();
      break;
    }
    default: {
      const Route53Change c = parseChangeInfo(body);
      if (c.id.size() + c.status.size() > body.size()) std::abort();
      break;
    }
  }
  return 0;
}
