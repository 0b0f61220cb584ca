#include "curl_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kLibcurl{"libcurl.so.4", "libcurl4", "http and dynamodb checks, etcd and cloud providers"};

Result<CurlApi> load() {
  return loadDriverApi<CurlApi>(kLibcurl, [](void* handle, CurlApi& api) -> Result<void> {
#define HALE_CURL_RESOLVE(name) \
  if (auto r = resolveDriverSymbol(handle, kLibcurl, "curl_" #name, api.name); !r) return r;
    HALE_CURL_FUNCTIONS(HALE_CURL_RESOLVE)
#undef HALE_CURL_RESOLVE
    // Before any handle exists; DriverTable loads under its lock, once it succeeds.
    if (const CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      return makeError("driver_missing",
                       "curl_global_init failed in " + std::string(kLibcurl.soname) + ": " + api.easy_strerror(rc));
    }
    return {};
  });
}

}  // namespace

Result<const CurlApi*> loadCurlApi() {
  static auto* const table =
      new DriverTable<CurlApi>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
