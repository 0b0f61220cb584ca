// The MySQL / MariaDB fence (fencer.h). MariaDB has no super_read_only; its read_only binds every account
// without READ ONLY ADMIN, which SUPER (before 10.11) and ALL PRIVILEGES (10.11) include: where such an
// account writes, configure a fence_command that stops the server. read_only is not persisted across a
// server restart. The fence is bounded by its deadline, but Connector/C counts whole seconds.

#include "fencer.h"

namespace hale::agent {
namespace {

constexpr unsigned kErrUnknownSystemVariable = 1193;

class MysqlFencer final : public Fencer {
 public:
  explicit MysqlFencer(MysqlTarget target) : target_(std::move(target)) {}

  Result<std::string> fence(SteadyTime deadline, const Clock& clock) override {
    const MysqlThreadScope scope;  // the lease's threads are not the checks' threads
    auto conn = MysqlConnection::connect(target_, remaining(deadline, clock));
    if (!conn) return conn.error();
    // SET GLOBAL read_only waits for open transactions and table locks: end the client connections first
    // (a long transaction must not commit after the fence), bound the wait, then end the ones that came in
    // meanwhile.
    auto first = endClientConnections(conn.value());
    if (!first) return first.error();
    const auto seconds = std::max<int64_t>(1, remaining(deadline, clock).count() / 1000);
    (void)conn.value().query("SET SESSION lock_wait_timeout = " + std::to_string(seconds));
    if (auto r = conn.value().query("SET GLOBAL read_only = ON"); !r) return r.error();
    std::string detail = "read_only on";
    if (auto r = conn.value().query("SET GLOBAL super_read_only = ON"); r) {
      detail += ", super_read_only on";
    } else if (conn.value().errorNumber() != kErrUnknownSystemVariable) {
      return makeError("query", "super_read_only: " + r.error().message);
    }
    auto second = endClientConnections(conn.value());
    if (!second) return second.error();
    return detail + ", " + std::to_string(first.value() + second.value()) + " client connections ended";
  }

  Result<std::string> unfence(SteadyTime deadline, const Clock& clock) override {
    const MysqlThreadScope scope;  // the lease's threads are not the checks' threads
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
  // Client connections other than this one; replication threads and the server's own stay.
  static Result<int> endClientConnections(MysqlConnection& conn) {
    auto sessions = conn.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
        "AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', "
        "'Slave_worker') AND USER NOT IN ('system user', 'event_scheduler')");
    if (!sessions) return makeError("query", "listing sessions: " + sessions.error().message);
    int ended = 0;
    for (const MysqlRow& row : sessions.value()) {
      const auto id = row.find("ID");
      if (id == row.end()) continue;
      if (conn.query("KILL CONNECTION " + std::to_string(std::stoull(id->second)))) ++ended;
    }
    return ended;
  }

  static std::chrono::milliseconds remaining(SteadyTime deadline, const Clock& clock) {
    return std::max(std::chrono::milliseconds{1000},
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.steadyNow()));
  }

  MysqlTarget target_;
};

}  // namespace

std::unique_ptr<Fencer> makeMysqlFencer(MysqlTarget target) { return std::make_unique<MysqlFencer>(std::move(target)); }

}  // namespace hale::agent
