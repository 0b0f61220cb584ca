#pragma once

// Blocking HTTP for tests (libcurl): enough to drive moto_server, etcd's JSON gateway and fakes.

#include <chrono>
#include <string>
#include <vector>

namespace hale::test {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string aws_sigv4;  // e.g. "aws:amz:us-east-1:dynamodb"; empty: unsigned
  std::string userpwd;    // "KEY:SECRET" for SigV4
  std::chrono::milliseconds timeout{5000};
};

struct HttpResponse {
  long status = 0;  // 0 when the request failed before an answer
  std::string body;
  std::string error;  // libcurl's message when status is 0
};

HttpResponse httpRequest(const HttpRequest& request);

}  // namespace hale::test
