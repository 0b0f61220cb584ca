// The MySQL / MariaDB fence (fencer.h). MariaDB has no super_read_only; its read_only binds every account
// without READ ONLY ADMIN.

#include <mysql.h>

#include "fencer.h"

namespace hale::agent {
namespace {

constexpr unsigned kErrUnknownSystemVariable = 1193;

class MysqlFencer final : public Fencer {
 public:
  explicit MysqlFencer(MysqlTarget target) : target_(std::move(target)) {}

  Result<std::string> fence(SteadyTime deadline, const Clock& clock) override {
    ThreadScope scope;
    auto conn = MysqlConnection::connect(target_, remaining(deadline, clock));
    if (!conn) return conn.error();
    if (auto r = conn.value().query("SET GLOBAL read_only = ON"); !r) return r.error();
    std::string detail = "read_only on";
    if (auto r = conn.value().query("SET GLOBAL super_read_only = ON"); r) {
      detail += ", super_read_only on";
    } else if (conn.value().errorNumber() != kErrUnknownSystemVariable) {
      return makeError("query", "super_read_only: " + r.error().message);
    }
    // End client connections so none keeps a transaction open across the change; replication threads
    // and this session stay.
    auto sessions = conn.value().query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
        "AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', "
        "'Slave_worker') AND USER NOT IN ('system user', 'event_scheduler')");
    if (!sessions) return makeError("query", "listing sessions: " + sessions.error().message);
    int ended = 0;
    for (const MysqlRow& row : sessions.value()) {
      const auto id = row.find("ID");
      if (id == row.end()) continue;
      if (conn.value().query("KILL CONNECTION " + std::to_string(std::stoull(id->second)))) ++ended;
    }
    return detail + ", " + std::to_string(ended) + " client connections ended";
  }

  Result<std::string> unfence(SteadyTime deadline, const Clock& clock) override {
    ThreadScope scope;
    auto conn = MysqlConnection::connect(target_, remaining(deadline, clock));
    if (!conn) return conn.error();
    if (auto r = conn.value().query("SET GLOBAL super_read_only = OFF");
        !r && conn.value().errorNumber() != kErrUnknownSystemVariable) {
      return makeError("query", "super_read_only: " + r.error().message);
    }
    if (auto r = conn.value().query("SET GLOBAL read_only = OFF"); !r) return r.error();
    return std::string("read_only off");
  }

 private:
  // Connector/C keeps per-thread state; the lease's threads are not the checks' threads.
  struct ThreadScope {
    ThreadScope() { mysql_thread_init(); }
    ~ThreadScope() { mysql_thread_end(); }
  };

  static std::chrono::milliseconds remaining(SteadyTime deadline, const Clock& clock) {
    return std::max(std::chrono::milliseconds{1000},
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.steadyNow()));
  }

  MysqlTarget target_;
};

}  // namespace

std::unique_ptr<Fencer> makeMysqlFencer(MysqlTarget target) { return std::make_unique<MysqlFencer>(std::move(target)); }

}  // namespace hale::agent
