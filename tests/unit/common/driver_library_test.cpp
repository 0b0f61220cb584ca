// The run-time loading of client libraries (driver_library.h): what an operator reads when a package is
// missing, and that every driver hale uses loads from the packages install-deps.sh puts in place.

#include "driver_library.h"

#include <gtest/gtest.h>

#include <cstring>

#include "http_client.h"
#include "mysql_client.h"
#include "pg_client.h"

namespace hale {
namespace {

TEST(DriverLibrary, AMissingLibraryNamesItsPackageAndWhatNeedsIt) {
  const DriverLibrary lib{"libhale-test-absent.so.7", "libhale-test-absent7", "widget checks"};
  const auto opened = openDriver(lib);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "driver_missing");
  const std::string& m = opened.error().message;
  EXPECT_NE(m.find("widget checks need libhale-test-absent.so.7"), std::string::npos) << m;
  EXPECT_NE(m.find("apt-get install libhale-test-absent7"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot open shared object file"), std::string::npos) << m;  // dlerror's reason
}

TEST(DriverLibrary, AMissingSymbolNamesItAndThePackage) {
  const DriverLibrary lib{"libc.so.6", "libc6", "tests"};
  const auto opened = openDriver(lib);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(driverSymbol(opened.value(), lib, "malloc").ok());
  const auto missing = driverSymbol(opened.value(), lib, "hale_no_such_function");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "driver_missing");
  EXPECT_NE(missing.error().message.find("no symbol hale_no_such_function"), std::string::npos);
  EXPECT_NE(missing.error().message.find("libc6"), std::string::npos);
}

// A table is filled from the library's symbols; one missing (or a failed initialisation) fails the load.
struct LibcTable {
  decltype(&::strlen) strlen = nullptr;
  decltype(&::strlen) absent = nullptr;
};

TEST(DriverLibrary, AnApiTableIsFilledOrTheLoadFails) {
  const DriverLibrary lib{"libc.so.6", "libc6", "tests"};
  const auto filled = loadDriverApi<LibcTable>(lib, [&](void* handle, LibcTable& api) -> Result<void> {
    return resolveDriverSymbol(handle, lib, "strlen", api.strlen);
  });
  ASSERT_TRUE(filled.ok()) << filled.error().message;
  EXPECT_EQ(filled.value().strlen("four"), 4u);
  const auto missing = loadDriverApi<LibcTable>(lib, [&](void* handle, LibcTable& api) -> Result<void> {
    if (auto r = resolveDriverSymbol(handle, lib, "strlen", api.strlen); !r) return r;
    return resolveDriverSymbol(handle, lib, "hale_no_such_function", api.absent);
  });
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no symbol hale_no_such_function"), std::string::npos);
  const auto refused = loadDriverApi<LibcTable>(
      lib, [](void*, LibcTable&) -> Result<void> { return makeError("driver_missing", "init failed"); });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "init failed");
}

// A failed load is tried again by the next call (a package installed after a refused reload); a good one
// is kept and never loaded twice.
int loads = 0;
Result<int> failsOnce() {
  ++loads;
  if (loads == 1) return makeError("driver_missing", "not yet installed");
  return 42;
}

TEST(DriverLibrary, AFailedLoadIsRetriedAndASuccessfulOneKept) {
  // Held from a static, as every driver's table is: what it loads is never freed, and LeakSanitizer finds
  // it through the static. A table on the stack leaked it once the frame was gone (a sanitizer run failed).
  static auto* const table = new DriverTable<int>(failsOnce);  // NOLINT(cppcoreguidelines-owning-memory)
  const auto first = table->get();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().message, "not yet installed");
  const auto second = table->get();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second.value(), 42);
  EXPECT_EQ(table->get().value(), second.value());
  EXPECT_EQ(loads, 2);
}

TEST(DriverLibrary, EveryDriverLoadsFromTheInstalledPackages) {
  for (const Result<void>& driver : {requirePgDriver(), requireMysqlDriver(), requireHttpDriver()}) {
    EXPECT_TRUE(driver.ok()) << driver.error().message;
  }
  // Loaded once: a second call answers from the same table.
  EXPECT_TRUE(requirePgDriver().ok());
  EXPECT_EQ(checkConninfo("host=127.0.0.1 dbname=x"), "");
  EXPECT_NE(checkConninfo("host=127.0.0.1 password=secret"), "");
}

}  // namespace
}  // namespace hale
