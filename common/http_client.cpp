#include "http_client.h"

#include <algorithm>
#include <cctype>

#include "curl_api.h"

namespace hale {
namespace {

// An HttpSession loads libcurl; everything else runs on a handle made after.
const CurlApi& lib() { return *loadCurlApi().value(); }

struct Transfer {
  HttpResponse* response;
  size_t max_body;
  const std::atomic<bool>* cancel;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const size_t room = t->max_body > t->response->body.size() ? t->max_body - t->response->body.size() : 0;
  t->response->body.append(data, std::min(n, room));
  return n;  // the excess is read and dropped, not an error
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && t->response->headers.size() < 64) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    t->response->headers.emplace_back(std::move(name), std::string(value));
  }
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<Transfer*>(user);
  return (t->cancel != nullptr && t->cancel->load(std::memory_order_relaxed)) ? 1 : 0;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

HttpSession::HttpSession() : curl_(loadCurlApi() ? lib().easy_init() : nullptr) {}

Result<void> requireHttpDriver() {
  if (auto api = loadCurlApi(); !api) return api.error();
  return {};
}

HttpSession::~HttpSession() {
  if (curl_ != nullptr) lib().easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse httpPerform(const HttpRequest& request) {
  HttpSession session;
  return session.perform(request);
}

HttpResponse HttpSession::perform(const HttpRequest& request) {
  HttpResponse response;
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    auto api = loadCurlApi();
    response.error = api ? "curl_easy_init failed" : api.error().message;
    return response;
  }
  // Options back to their defaults; the connection, TLS session, DNS and CA caches stay.
  lib().easy_reset(curl);
  Transfer transfer{&response, request.max_body, request.cancel};
  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = lib().slist_append(headers, h.c_str());

  lib().easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  lib().easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") lib().easy_setopt(curl, CURLOPT_NOBODY, 1L);
  lib().easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  lib().easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, request.timeout.count())));
  lib().easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we are multi-threaded
  lib().easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  lib().easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  lib().easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  lib().easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  lib().easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  lib().easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  lib().easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  lib().easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, onProgress);
  lib().easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  if (!request.verify_tls) {
    lib().easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    lib().easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
    lib().easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    lib().easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }
  if (!request.ca_file.empty()) {
    // Instead of the system's trust, not beside it: Debian's libcurl also loads a CA directory by default.
    lib().easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
    lib().easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  }
  // A kept connection is replaced once this old, as a check's database session is: a server that
  // still answers on open connections but takes no new ones, or a name that now points elsewhere.
  lib().easy_setopt(curl, CURLOPT_MAXLIFETIME_CONN,
                    static_cast<long>(std::max<int64_t>(1, request.max_connection_age.count())));
  if (!request.cert_file.empty()) lib().easy_setopt(curl, CURLOPT_SSLCERT, request.cert_file.c_str());
  if (!request.key_file.empty()) lib().easy_setopt(curl, CURLOPT_SSLKEY, request.key_file.c_str());
  if (!request.aws_sigv4.empty()) {
    lib().easy_setopt(curl, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    lib().easy_setopt(curl, CURLOPT_USERPWD, request.userpwd.c_str());
  }
  const CURLcode rc = lib().easy_perform(curl);
  if (rc == CURLE_OK) {
    lib().easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.status = 0;
    response.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    response.cancelled = rc == CURLE_ABORTED_BY_CALLBACK;
    response.error = lib().easy_strerror(rc);
  }
  // The handle keeps pointers to these options until the next request sets them again.
  lib().easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  lib().slist_free_all(headers);
  return response;
}

}  // namespace hale
