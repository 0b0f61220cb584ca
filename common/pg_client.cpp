#include "pg_client.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "libpq_api.h"

namespace hale {
namespace {

// connect() and checkConninfo() load libpq; everything else runs on a connection made after.
const LibPq& pq() { return *loadLibPq().value(); }

std::string firstLine(const char* text) {
  std::string s = text != nullptr ? text : "";
  s = s.substr(0, s.find('\n'));
  return s.substr(0, 200);
}

// Waits for `events` on `fd` in short slices until the deadline or a cancel; false when neither came.
bool waitFd(int fd, short events, const PgDeadline& d) {
  constexpr std::chrono::milliseconds kSlice{100};
  for (;;) {
    if (d.cancel != nullptr && d.cancel->load(std::memory_order_relaxed)) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d.at - d.clock->steadyNow());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, std::min(left, kSlice).count())));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq report the socket's error
  }
}

}  // namespace

PgConnection& PgConnection::operator=(PgConnection&& o) noexcept {
  if (this != &o) {
    if (conn_ != nullptr) pq().PQfinish(conn_);
    conn_ = o.conn_;
    o.conn_ = nullptr;
  }
  return *this;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) pq().PQfinish(conn_);
}

Result<PgConnection> PgConnection::connect(const std::string& conninfo, const std::string& password,
                                           const PgDeadline& d, const char* application_name) {
  if (auto api = loadLibPq(); !api) return api.error();
  const char* keys[] = {"dbname", "password", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), password.empty() ? nullptr : password.c_str(), application_name, nullptr};
  PGconn* c = pq().PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr) return makeError("connect", "out of memory");
  PgConnection conn(c);
  // Notices (and a server's goodbye read on an idle connection) would go to stderr by default: callers
  // report what matters through results.
  pq().PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (pq().PQstatus(c) == CONNECTION_BAD) return makeError("connect", firstLine(pq().PQerrorMessage(c)));
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) return makeError("connect", firstLine(pq().PQerrorMessage(c)));
    if (!waitFd(pq().PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, d)) {
      return makeError("timeout", "no answer within the timeout (connecting)");
    }
    st = pq().PQconnectPoll(c);
  }
  if (pq().PQsetnonblocking(c, 1) != 0) return makeError("connect", firstLine(pq().PQerrorMessage(c)));
  return conn;
}

Result<PgRows> PgConnection::query(const std::string& sql, const PgDeadline& d) {
  if (pq().PQsendQuery(conn_, sql.c_str()) == 0) return makeError("query", firstLine(pq().PQerrorMessage(conn_)));
  while (pq().PQflush(conn_) == 1) {
    if (!waitFd(pq().PQsocket(conn_), POLLOUT, d)) return makeError("timeout", "no answer within the timeout (query)");
  }
  PgRows rows;
  std::string error;
  for (;;) {
    while (pq().PQisBusy(conn_) != 0) {
      if (!waitFd(pq().PQsocket(conn_), POLLIN, d)) return makeError("timeout", "no answer within the timeout (query)");
      if (pq().PQconsumeInput(conn_) == 0) return makeError("query", firstLine(pq().PQerrorMessage(conn_)));
    }
    PGresult* res = pq().PQgetResult(conn_);
    if (res == nullptr) break;  // every statement's result has been read
    const ExecStatusType st = pq().PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
      rows = {};
      for (int r = 0; r < pq().PQntuples(res); ++r) {
        rows.values.emplace_back();
        rows.null.emplace_back();
        for (int f = 0; f < pq().PQnfields(res); ++f) {
          rows.values.back().emplace_back(pq().PQgetvalue(res, r, f));
          rows.null.back().push_back(pq().PQgetisnull(res, r, f) != 0);
        }
      }
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // Never asked for: a hostile or broken server. PQgetResult would return this state for ever; the
      // session is left mid-COPY (not reusable()).
      pq().PQclear(res);
      return makeError("query", "the server answered with a COPY that was not asked for");
    } else if (st != PGRES_COMMAND_OK && error.empty()) {
      error = firstLine(pq().PQresultErrorMessage(res));
    }
    pq().PQclear(res);
  }
  if (!error.empty()) return makeError("query", error);
  return rows;
}

bool PgConnection::reusable() {
  const int fd = pq().PQsocket(conn_);
  if (fd < 0 || pq().PQstatus(conn_) != CONNECTION_OK) return false;
  // Readable while idle: a parameter change (absorbed by libpq), or the server's goodbye (a FATAL message,
  // which libpq passes to the notice processor and leaves the status OK) and then the end of file, which
  // only a further read reports. So read on while there is something, a few rounds at most.
  for (int round = 0; round < 8; ++round) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (pq().PQconsumeInput(conn_) == 0) return false;
  }
  return pq().PQstatus(conn_) == CONNECTION_OK && pq().PQtransactionStatus(conn_) == PQTRANS_IDLE &&
         pq().PQisBusy(conn_) == 0;
}

Result<void> requirePgDriver() {
  if (auto api = loadLibPq(); !api) return api.error();
  return {};
}

std::string checkConninfo(const std::string& conninfo) {
  if (auto api = loadLibPq(); !api) return api.error().message;
  char* err = nullptr;
  PQconninfoOption* parsed = pq().PQconninfoParse(conninfo.c_str(), &err);
  if (parsed == nullptr) {
    std::string why = "not a libpq connection string: " + firstLine(err != nullptr ? err : "parse error");
    if (err != nullptr) pq().PQfreemem(err);
    return why;
  }
  std::string problem;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr)
      problem = "must not hold a password; use a password file";
  }
  pq().PQconninfoFree(parsed);
  return problem;
}

}  // namespace hale
