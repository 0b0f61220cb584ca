#pragma once

// The client libraries behind checks and actions (libpq, MariaDB Connector/C, libcurl) are opened at run
// time on first use instead of being linked: an agent with only tcp and exec checks maps none of them, nor
// OpenSSL, Kerberos and LDAP that they pull in (about half the agent's shared libraries). Each library has
// an API table (libpq_api.h, mysql_api.h, curl_api.h) loaded once per process and kept until exit; what
// goes wrong names the Debian package to install.

#include <atomic>
#include <mutex>

#include "result.h"

namespace hale {

struct DriverLibrary {
  const char* soname;    // "libpq.so.5"
  const char* package;   // the Debian package that ships it, "libpq5"
  const char* used_for;  // "postgres checks and promotion"
};

// Opens `lib` for the life of the process. Error code "driver_missing", message naming the package.
Result<void*> openDriver(const DriverLibrary& lib);

// The address of `symbol` in an opened driver. Error code "driver_missing" (a version of the library too
// old to have it), naming the package.
Result<void*> driverSymbol(void* handle, const DriverLibrary& lib, const char* symbol);

// A driver's table of functions, loaded by the first get() that succeeds. A failed load is not remembered:
// the next get() tries again, so a package installed after a refused reload is found by the next reload.
// Allocated once and never freed: a check thread abandoned at exit (a probe hung on a frozen server) may
// still call through it while static destructors run. So a table is held from a static pointer.
template <typename Api>
class DriverTable {
 public:
  using Loader = Result<Api> (*)();
  explicit DriverTable(Loader load) : load_(load) {}

  Result<const Api*> get() {
    if (const Api* api = loaded_.load(std::memory_order_acquire)) return api;
    const std::lock_guard lock(mu_);
    if (const Api* api = loaded_.load(std::memory_order_relaxed)) return api;
    Result<Api> fresh = load_();
    if (!fresh) return fresh.error();
    const Api* api = new Api(std::move(fresh).value());  // NOLINT(cppcoreguidelines-owning-memory): never freed
    loaded_.store(api, std::memory_order_release);
    return api;
  }

 private:
  Loader load_;
  std::mutex mu_;
  std::atomic<const Api*> loaded_{nullptr};
};

// Closes a driver that could not be used (a symbol missing, its initialisation failed).
void closeDriver(void* handle);

// Sets `fn` to the address of `symbol` in an opened driver.
template <typename Fn>
Result<void> resolveDriverSymbol(void* handle, const DriverLibrary& lib, const char* symbol, Fn*& fn) {
  auto address = driverSymbol(handle, lib, symbol);
  if (!address) return address.error();
  fn = reinterpret_cast<Fn*>(address.value());  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): dlsym
  return {};
}

// Opens `lib` and has `fill(handle, api)` resolve the table's functions (and initialise the library if it
// needs that); closes the library again when it fails. A DriverTable's loader.
template <typename Api, typename Fill>
Result<Api> loadDriverApi(const DriverLibrary& lib, Fill fill) {
  auto handle = openDriver(lib);
  if (!handle) return handle.error();
  Api api;
  if (auto filled = fill(handle.value(), api); !filled) {
    closeDriver(handle.value());
    return filled.error();
  }
  return api;
}

}  // namespace hale
