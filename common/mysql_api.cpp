#include "mysql_api.h"

#include "driver_library.h"

namespace hale {

namespace {

constexpr DriverLibrary kConnectorC{"libmariadb.so.3", "libmariadb3", "mysql checks, fencing and promotion"};

Result<MysqlApi> load() {
  auto handle = openDriver(kConnectorC);
  if (!handle) return handle.error();
  MysqlApi api;
#define HALE_MYSQL_RESOLVE(name)                                                   \
  if (auto address = driverSymbol(handle.value(), kConnectorC, #name); !address) { \
    closeDriver(handle.value());                                                   \
    return address.error();                                                        \
  } else {                                                                         \
    api.name = reinterpret_cast<decltype(api.name)>(address.value());              \
  }
  HALE_MYSQL_FUNCTIONS(HALE_MYSQL_RESOLVE)
#undef HALE_MYSQL_RESOLVE
  // mysql_library_init (a macro for mysql_server_init): before any thread makes a connection; DriverTable
  // loads under its lock, once it succeeds.
  if (api.mysql_server_init(0, nullptr, nullptr) != 0) {
    closeDriver(handle.value());
    return makeError("driver_missing", std::string("mysql_library_init failed in ") + kConnectorC.soname +
                                           " (Debian package " + kConnectorC.package + ")");
  }
  return api;
}

}  // namespace

Result<const MysqlApi*> loadMysqlApi() {
  static auto* const table =
      new DriverTable<MysqlApi>(load);  // NOLINT(cppcoreguidelines-owning-memory): see DriverTable
  return table->get();
}

}  // namespace hale
