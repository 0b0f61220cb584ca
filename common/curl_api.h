#pragma once

// libcurl, opened on first use (driver_library.h), and with it OpenSSL: an agent without http, dynamodb or
// etcd work never initialises TLS. Members drop the curl_ prefix (curl.h makes curl_easy_setopt a macro).
// Only http_client.cpp includes this.

#include <curl/curl.h>

#include "result.h"

namespace hale {

#define HALE_CURL_FUNCTIONS(X) \
  X(global_init)               \
  X(easy_init)                 \
  X(easy_cleanup)              \
  X(easy_reset)                \
  X(easy_setopt)               \
  X(easy_perform)              \
  X(easy_getinfo)              \
  X(easy_strerror)             \
  X(slist_append)              \
  X(slist_free_all)

struct CurlApi {
#define HALE_CURL_MEMBER(name) \
  decltype(&::curl_##name) name = nullptr;  // NOLINT(bugprone-macro-parentheses): a declarator
  HALE_CURL_FUNCTIONS(HALE_CURL_MEMBER)
#undef HALE_CURL_MEMBER
};

// libcurl, loaded and initialised (curl_global_init) by the first call; later calls return the same table,
// or the same error.
Result<const CurlApi*> loadCurlApi();

}  // namespace hale
