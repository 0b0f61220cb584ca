#include "mysql_client.h"

#include <errmsg.h>
#include <poll.h>

#include <algorithm>

#include "mysql_api.h"

namespace hale {
namespace {

// connect() loads Connector/C; everything else runs on a connection made after.
const MysqlApi& my() { return *loadMysqlApi().value(); }

constexpr unsigned kErrParse = 1064;  // ER_PARSE_ERROR: the server does not know SHOW REPLICA STATUS

std::string firstLine(const char* text) {
  std::string s = text != nullptr ? text : "";
  return s.substr(0, s.find('\n')).substr(0, 200);
}

}  // namespace

Result<void> requireMysqlDriver() {
  if (auto api = loadMysqlApi(); !api) return api.error();
  return {};
}

MysqlThreadScope::MysqlThreadScope() : attached_(loadMysqlApi().ok()) {
  if (attached_) my().mysql_thread_init();
}

MysqlThreadScope::~MysqlThreadScope() {
  if (attached_) my().mysql_thread_end();
}

Result<MysqlConnection> MysqlConnection::connect(const MysqlTarget& t, std::chrono::milliseconds timeout) {
  if (auto api = loadMysqlApi(); !api) return api.error();
  MYSQL* m = my().mysql_init(nullptr);
  if (m == nullptr) return makeError("connect", "out of memory");
  MysqlConnection conn(m);
  const unsigned secs = static_cast<unsigned>(std::max<int64_t>(1, (timeout.count() + 999) / 1000));
  my().mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
  my().mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
  my().mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &secs);
  const char* socket = t.socket.empty() ? nullptr : t.socket.c_str();
  const char* host = t.socket.empty() ? t.host.c_str() : "localhost";
  if (my().mysql_real_connect(m, host, t.user.c_str(), t.password.empty() ? nullptr : t.password.c_str(), nullptr,
                              t.port, socket, 0) == nullptr) {
    return makeError("connect", firstLine(my().mysql_error(m)));
  }
  return conn;
}

MysqlConnection::~MysqlConnection() {
  if (m_ != nullptr) my().mysql_close(m_);
}

unsigned MysqlConnection::errorNumber() const { return my().mysql_errno(m_); }

bool MysqlConnection::reusable() const {
  const unsigned err = my().mysql_errno(m_);
  // A client-side error (Connector/C's own ranges): lost, timed out, out of sync.
  if ((err >= CR_MIN_ERROR && err <= CR_MAX_ERROR) || (err >= CER_MIN_ERROR && err <= CER_MAX_ERROR)) return false;
  const auto fd = my().mysql_get_socket(m_);
  if (fd < 0) return false;
  pollfd p{static_cast<int>(fd), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Result<std::vector<MysqlRow>> MysqlConnection::query(const std::string& sql) {
  if (my().mysql_query(m_, sql.c_str()) != 0) return makeError("query", firstLine(my().mysql_error(m_)));
  std::vector<MysqlRow> rows;
  MYSQL_RES* res = my().mysql_store_result(m_);
  if (res == nullptr) {
    if (my().mysql_field_count(m_) != 0) return makeError("query", firstLine(my().mysql_error(m_)));
    return rows;  // a statement without a result set
  }
  const unsigned n = my().mysql_num_fields(res);
  MYSQL_FIELD* fields = my().mysql_fetch_fields(res);
  while (MYSQL_ROW r = my().mysql_fetch_row(res)) {
    MysqlRow row;
    for (unsigned i = 0; i < n; ++i) row[fields[i].name] = r[i] != nullptr ? r[i] : "NULL";
    rows.push_back(std::move(row));
  }
  my().mysql_free_result(res);
  return rows;
}

Result<std::vector<MysqlRow>> replicationStatus(MysqlConnection& c) {
  auto rows = c.query("SHOW REPLICA STATUS");
  if (!rows && c.errorNumber() == kErrParse) rows = c.query("SHOW SLAVE STATUS");
  return rows;
}

std::string replicationColumn(const MysqlRow& row, const char* old_name, const char* new_name) {
  if (auto it = row.find(old_name); it != row.end()) return it->second;
  if (auto it = row.find(new_name); it != row.end()) return it->second;
  return "";
}

}  // namespace hale
