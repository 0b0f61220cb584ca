#pragma once

// MariaDB Connector/C, opened on first use (driver_library.h): the functions hale calls, by their own
// names. Only mysql_client.cpp includes this.

#include <mysql.h>

#include "result.h"

namespace hale {

#define HALE_MYSQL_FUNCTIONS(X) \
  X(mysql_server_init)          \
  X(mysql_thread_init)          \
  X(mysql_thread_end)           \
  X(mysql_init)                 \
  X(mysql_options)              \
  X(mysql_real_connect)         \
  X(mysql_error)                \
  X(mysql_errno)                \
  X(mysql_close)                \
  X(mysql_get_socket)           \
  X(mysql_query)                \
  X(mysql_store_result)         \
  X(mysql_field_count)          \
  X(mysql_num_fields)           \
  X(mysql_fetch_fields)         \
  X(mysql_fetch_row)            \
  X(mysql_free_result)

struct MysqlApi {
#define HALE_MYSQL_MEMBER(name) decltype(&::name) name = nullptr;  // NOLINT(bugprone-macro-parentheses): a declarator
  HALE_MYSQL_FUNCTIONS(HALE_MYSQL_MEMBER)
#undef HALE_MYSQL_MEMBER
};

// Connector/C, loaded and initialised (mysql_library_init) by the first call; later calls return the same
// table, or the same error.
Result<const MysqlApi*> loadMysqlApi();

}  // namespace hale
