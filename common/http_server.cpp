#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hale {
namespace {

// Marks the first callback of a request. libmicrohttpd 0.9.75 answers "Connection: close" to every
// response queued on the first callback of a GET, which costs keep-alive and most of the throughput;
// the response is therefore queued on the second one.
int g_first_call_marker;

MHD_Result onRequest(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                     const char*, size_t* upload_size, void** request_state) {
  if (*request_state == nullptr) {
    *request_state = &g_first_call_marker;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0;  // request bodies are ignored; handlers refuse methods that carry one
    return MHD_YES;
  }
  const auto* handler = static_cast<const HttpHandler*>(cls);
  thread_local std::string body;  // one per polling thread: no allocation once warm
  const char* content_type = kContentText;
  unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  try {
    status = (*handler)(method, url, body, content_type);
  } catch (const std::exception&) {
    body = "internal error\n";
    content_type = kContentText;
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  const MHD_Result r = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return r;
}

// What all connections together may use: at most 1024, and never the descriptors the rest needs.
unsigned connectionLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1024;
  const auto soft = static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur, 1U << 20));
  return soft > kDescriptorsReserved + 64 ? std::min(1024U, soft - kDescriptorsReserved) : 64;
}

}  // namespace

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

unsigned HttpServer::methodNotAllowed(std::string& body, const char*& content_type) {
  body = "method not allowed\n";
  content_type = kContentText;
  return MHD_HTTP_METHOD_NOT_ALLOWED;
}

Result<void> HttpServer::start(const std::string& address, uint16_t port) {
  sockaddr_storage storage{};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    flags |= MHD_USE_IPv6;
  } else {
    return makeError("config", "http listen address \"" + address + "\" is not an IPv4 or IPv6 address");
  }
  daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &onRequest, &handler_, MHD_OPTION_SOCK_ADDR,
                             reinterpret_cast<sockaddr*>(&storage), MHD_OPTION_CONNECTION_TIMEOUT,
                             kConnectionTimeoutSeconds, MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxConnectionsPerAddress,
                             MHD_OPTION_CONNECTION_LIMIT, connectionLimit(), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return makeError("bind", "cannot listen on " + address + ":" + std::to_string(port) + ": " + std::strerror(errno));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : port;
  return {};
}

void HttpServer::stop() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
}

}  // namespace hale
