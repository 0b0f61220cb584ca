// The PostgreSQL fence (fencer.h). Statements go one by one: ALTER SYSTEM refuses to run inside the implicit
// transaction of a multi-statement query.

#include "fencer.h"
#include "pg_client.h"

namespace hale::agent {
namespace {

constexpr const char* kEndClientSessions =
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";

class PostgresFencer final : public Fencer {
 public:
  PostgresFencer(std::string conninfo, std::string password)
      : conninfo_(std::move(conninfo)), password_(std::move(password)) {}

  Result<std::string> fence(SteadyTime deadline, const Clock& clock) override {
    return run({"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()", kEndClientSessions},
               deadline, clock, "default_transaction_read_only on, ", " client sessions ended");
  }

  Result<std::string> unfence(SteadyTime deadline, const Clock& clock) override {
    return run({"ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"}, deadline, clock,
               "default_transaction_read_only reset", "");
  }

 private:
  Result<std::string> run(std::initializer_list<const char*> statements, SteadyTime deadline, const Clock& clock,
                          const std::string& prefix, const std::string& suffix) const {
    const std::atomic<bool> never{false};
    const PgDeadline d{deadline, &never, &clock};
    auto conn = PgConnection::connect(conninfo_, password_, d, "hale-agent-fence");
    if (!conn) return conn.error();
    std::string last;
    for (const char* sql : statements) {
      auto r = conn.value().query(sql, d);
      if (!r) return makeError(r.error().code, std::string(sql) + ": " + r.error().message);
      last = !r.value().values.empty() && !r.value().values[0].empty() ? r.value().values[0][0] : "";
    }
    return suffix.empty() ? prefix : prefix + last + suffix;
  }

  std::string conninfo_;
  std::string password_;
};

}  // namespace

std::unique_ptr<Fencer> makePostgresFencer(std::string conninfo, std::string password) {
  return std::make_unique<PostgresFencer>(std::move(conninfo), std::move(password));
}

}  // namespace hale::agent
