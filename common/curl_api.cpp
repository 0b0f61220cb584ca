#include "curl_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kLibcurl{"libcurl.so.4", "libcurl4", "http and dynamodb checks, etcd and cloud providers"};

Result<CurlApi> load() {
  auto handle = openDriver(kLibcurl);
  if (!handle) return handle.error();
  CurlApi api;
#define HALE_CURL_RESOLVE(name)                                                         \
  if (auto address = driverSymbol(handle.value(), kLibcurl, "curl_" #name); !address) { \
    return address.error();                                                             \
  } else {                                                                              \
    api.name = reinterpret_cast<decltype(api.name)>(address.value());                   \
  }
  HALE_CURL_FUNCTIONS(HALE_CURL_RESOLVE)
#undef HALE_CURL_RESOLVE
  // Once, before any handle exists; the function-local static that holds this table makes it so.
  if (const CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return makeError("driver_missing", std::string("curl_global_init failed: ") + api.easy_strerror(rc));
  }
  return api;
}

}  // namespace

Result<const CurlApi*> loadCurlApi() {
  static const Result<CurlApi> loaded = load();  // thread-safe once; the library stays open
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace hale
