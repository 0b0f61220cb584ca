#pragma once

// The client libraries behind checks and actions (libpq, MariaDB Connector/C, libcurl) are opened at run
// time on first use instead of being linked: an agent with only tcp and exec checks maps none of them, nor
// OpenSSL, Kerberos and LDAP that they pull in (about half the agent's shared libraries). Each library has
// an API table (libpq_api.h, mysql_api.h, curl_api.h) loaded once per process and kept until exit; what
// goes wrong names the Debian package to install.

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

}  // namespace hale
