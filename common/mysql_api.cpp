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
    return address.error();                                                        \
  } else {                                                                         \
    api.name = reinterpret_cast<decltype(api.name)>(address.value());              \
  }
  HALE_MYSQL_FUNCTIONS(HALE_MYSQL_RESOLVE)
#undef HALE_MYSQL_RESOLVE
  // mysql_library_init (a macro for mysql_server_init): once, before any thread makes a connection; the
  // function-local static that holds this table makes it happen exactly once.
  if (api.mysql_server_init(0, nullptr, nullptr) != 0) {
    return makeError("driver_missing", "mysql_library_init failed in libmariadb.so.3");
  }
  return api;
}

}  // namespace

Result<const MysqlApi*> loadMysqlApi() {
  static const Result<MysqlApi> loaded = load();  // thread-safe once; the library stays open
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace hale
