#include "mysql_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kConnectorC{"libmariadb.so.3", "libmariadb3", "mysql checks, fencing and promotion"};

Result<MysqlApi> load() {
  return loadDriverApi<MysqlApi>(kConnectorC, [](void* handle, MysqlApi& api) -> Result<void> {
#define HALE_MYSQL_RESOLVE(name) \
  if (auto r = resolveDriverSymbol(handle, kConnectorC, #name, api.name); !r) return r;
    HALE_MYSQL_FUNCTIONS(HALE_MYSQL_RESOLVE)
#undef HALE_MYSQL_RESOLVE
    // mysql_library_init (a macro for mysql_server_init): before any thread makes a connection;
    // DriverTable loads under its lock, once it succeeds.
    if (api.mysql_server_init(0, nullptr, nullptr) != 0) {
      return makeError("driver_missing", std::string("mysql_library_init failed in ") + kConnectorC.soname +
                                             " (Debian package " + kConnectorC.package + ")");
    }
    return {};
  });
}

}  // namespace

Result<const MysqlApi*> loadMysqlApi() {
  static auto* const table =
      new DriverTable<MysqlApi>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
