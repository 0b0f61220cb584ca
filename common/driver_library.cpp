#include "driver_library.h"

#include <dlfcn.h>

#include <string>

namespace hale {

namespace {

Error missing(const DriverLibrary& lib, const std::string& detail) {
  return Error{"driver_missing", std::string(lib.used_for) + " need " + lib.soname + " (Debian package " + lib.package +
                                     ", apt-get install " + lib.package + "): " + detail};
}

}  // namespace

Result<void*> openDriver(const DriverLibrary& lib) {
  // RTLD_LOCAL: the driver's symbols stay out of the global namespace, so two drivers sharing a dependency
  // (OpenSSL under libpq and libcurl) resolve it the ordinary way and nothing of hale's is interposed.
  void* handle = ::dlopen(lib.soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return missing(lib, why != nullptr ? why : "dlopen failed");
  }
  return handle;
}

Result<void*> driverSymbol(void* handle, const DriverLibrary& lib, const char* symbol) {
  ::dlerror();
  void* address = ::dlsym(handle, symbol);
  if (address == nullptr) return missing(lib, std::string("no symbol ") + symbol + " (a version too old?)");
  return address;
}

void closeDriver(void* handle) {
  if (handle != nullptr) ::dlclose(handle);
}

}  // namespace hale
