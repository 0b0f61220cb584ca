#include "libpq_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kLibPq{"libpq.so.5", "libpq5", "postgres checks, fencing and promotion"};

Result<LibPq> load() {
  auto handle = openDriver(kLibPq);
  if (!handle) return handle.error();
  LibPq api;
#define HALE_LIBPQ_RESOLVE(name)                                              \
  if (auto address = driverSymbol(handle.value(), kLibPq, #name); !address) { \
    closeDriver(handle.value());                                              \
    return address.error();                                                   \
  } else {                                                                    \
    api.name = reinterpret_cast<decltype(api.name)>(address.value());         \
  }
  HALE_LIBPQ_FUNCTIONS(HALE_LIBPQ_RESOLVE)
#undef HALE_LIBPQ_RESOLVE
  return api;
}

}  // namespace

Result<const LibPq*> loadLibPq() {
  static auto* const table = new DriverTable<LibPq>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
