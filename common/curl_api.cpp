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
    closeDriver(handle.value());                                                        \
    return address.error();                                                             \
  } else {                                                                              \
    api.name = reinterpret_cast<decltype(api.name)>(address.value());                   \
  }
  HALE_CURL_FUNCTIONS(HALE_CURL_RESOLVE)
#undef HALE_CURL_RESOLVE
  // Before any handle exists; DriverTable loads under its lock, once it succeeds.
  if (const CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    const std::string why = api.easy_strerror(rc);
    closeDriver(handle.value());
    return makeError("driver_missing", "curl_global_init failed in " + std::string(kLibcurl.soname) + ": " + why);
  }
  return api;
}

}  // namespace

Result<const CurlApi*> loadCurlApi() {
  static auto* const table =
      new DriverTable<CurlApi>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
