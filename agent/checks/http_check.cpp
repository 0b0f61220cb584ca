// http: the application's own health endpoint.
//   url = "http://127.0.0.1:8080/health"
//   expect_status = 200          (default: any 2xx)
//   body_contains = "\"ok\""     (optional)
//   tls_verify = true
// No answer (refused, timeout) is a transient error; an answer with the wrong status or body is a
// definitive failure.

#include "check_util.h"
#include "factories.h"
#include "http_client.h"

namespace hale::agent {
namespace {

class HttpCheck final : public Check {
 public:
  HttpCheck(std::string url, int64_t expect_status, std::string body_contains, bool verify_tls)
      : url_(std::move(url)),
        expect_status_(expect_status),
        body_contains_(std::move(body_contains)),
        verify_tls_(verify_tls) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    try {
      HttpRequest req;
      req.url = url_;
      req.timeout = ctx.remaining();
      req.cancel = ctx.stopping;
      req.max_body = size_t{64} * 1024;
      req.verify_tls = verify_tls_;
      req.headers = {"User-Agent: hale-agent", "Accept: */*"};
      const HttpResponse r = session_.perform(req);
      if (r.status == 0) return {Outcome::error, r.timed_out ? "no answer within the timeout" : r.error};
      const bool status_ok = expect_status_ != 0 ? r.status == expect_status_ : (r.status >= 200 && r.status < 300);
      if (!status_ok) {
        return {Outcome::fail, "HTTP " + std::to_string(r.status) +
                                   (expect_status_ != 0 ? " (expected " + std::to_string(expect_status_) + ")" : "")};
      }
      if (!body_contains_.empty() && r.body.find(body_contains_) == std::string::npos) {
        return {Outcome::fail, "HTTP " + std::to_string(r.status) + " but the body lacks the expected text"};
      }
      return {Outcome::pass, "HTTP " + std::to_string(r.status)};
    } catch (const std::exception& e) {
      return {Outcome::error, e.what()};
    }
  }

 private:
  std::string url_;
  int64_t expect_status_;
  std::string body_contains_;
  bool verify_tls_;
  HttpSession session_;  // the connection and TLS session kept across probes (one thread at a time)
};

}  // namespace

std::unique_ptr<Check> makeHttpCheck(ConfigTable& t, const CheckSettings&) {
  std::string url;
  int64_t expect_status = 0;
  std::string body_contains;
  bool verify = true;
  bool ok = t.get("url", url, Presence::required);
  if (auto driver = requireHttpDriver(); !driver) {
    t.error("type", driver.error().message);
    ok = false;
  }
  if (ok && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    t.error("url", "must start with http:// or https://");
    ok = false;
  }
  if (t.has("expect_status") && !t.get("expect_status", expect_status, Presence::optional, 100, 599)) ok = false;
  t.get("body_contains", body_contains);
  t.get("tls_verify", verify);
  if (!ok) return nullptr;
  return std::make_unique<HttpCheck>(url, expect_status, body_contains, verify);
}

}  // namespace hale::agent
