#pragma once

// A PostgreSQL connection driven through libpq's non-blocking API, so every call honours a deadline and a
// cancel flag, even against a server that accepts TCP connections and then says nothing (a frozen or
// overloaded one). For the agent's postgres check and the aggregator's promotion action.

#include <atomic>
#include <string>
#include <vector>

#include "clock.h"
#include "result.h"

struct pg_conn;

namespace hale {

struct PgDeadline {
  SteadyTime at;
  const std::atomic<bool>* cancel = nullptr;
  const Clock* clock = nullptr;
};

// Rows of text values; a NULL is std::nullopt-like: `null[i][j]` true.
struct PgRows {
  std::vector<std::vector<std::string>> values;
  std::vector<std::vector<bool>> null;
};

class PgConnection {
 public:
  // `conninfo` in libpq syntax; `password` empty when none. Error codes: "timeout" (no answer by the
  // deadline), "connect" (refused, auth, ...).
  static Result<PgConnection> connect(const std::string& conninfo, const std::string& password, const PgDeadline& d,
                                      const char* application_name = "hale");
  PgConnection(PgConnection&& o) noexcept : conn_(o.conn_) { o.conn_ = nullptr; }
  PgConnection& operator=(PgConnection&& o) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  // Runs `sql` (one or more statements); returns the last statement's rows. Error codes: "timeout",
  // "query" (the server refused it; the message is the server's first line).
  Result<PgRows> query(const std::string& sql, const PgDeadline& d);

  // Whether this connection can take another query: open, idle (no query or transaction left in
  // progress) and not closed by the server meanwhile (a restart, an idle timeout, pg_terminate_backend);
  // what the server sent while idle is read without blocking. For callers that keep a connection.
  bool reusable();

 private:
  explicit PgConnection(pg_conn* c) : conn_(c) {}
  pg_conn* conn_;
};

// Loads libpq now (driver_library.h), so a check or action configured for PostgreSQL reports a missing
// package when it is built, not at its first probe. connect() and checkConninfo() load it too.
Result<void> requirePgDriver();

// Checks a conninfo string without connecting: its syntax, and that it holds no password (passwords come
// from files). Returns the problem, or "" when fine.
std::string checkConninfo(const std::string& conninfo);

}  // namespace hale
