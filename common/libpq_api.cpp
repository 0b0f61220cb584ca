#include "libpq_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kLibPq{"libpq.so.5", "libpq5", "postgres checks, fencing and promotion"};

Result<LibPq> load() {
  return loadDriverApi<LibPq>(kLibPq, [](void* handle, LibPq& api) -> Result<void> {
#define HALE_LIBPQ_RESOLVE(name) \
  if (auto r = resolveDriverSymbol(handle, kLibPq, #name, api.name); !r) return r;
    HALE_LIBPQ_FUNCTIONS(HALE_LIBPQ_RESOLVE)
#undef HALE_LIBPQ_RESOLVE
    return {};
  });
}

}  // namespace

Result<const LibPq*> loadLibPq() {
  static auto* const table = new DriverTable<LibPq>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
