#pragma once

// Fencing: making the local database refuse writes when its agent may no longer hold the primary lease
// (primary_lease.h), and lifting that when the lease is back. Each call is bounded by `deadline`, is safe to
// repeat, and returns what it did (for the local journal) or why it failed.
//
//   postgres  ALTER SYSTEM SET default_transaction_read_only = on, reload, end client sessions so they
//             reconnect read-only; unfence resets the setting and reloads.
//   mysql     SET GLOBAL read_only = ON and super_read_only = ON where the server has it (MySQL), end client
//             connections; unfence turns both off.
//   command   the operator's fence_command / unfence_command (argv, no shell), exit 0 = done; for a hard
//             fence (stop the server, drop it from the network).
// The built-in fences are soft: a client that sets its own session read-write defeats them, so does a
// role- or database-level default_transaction_read_only = off (PostgreSQL; the check then also reads the
// fence as confirmed, and the check's own user must not have such a setting either way), and so does an
// account with READ ONLY ADMIN or SUPER (MariaDB). Stop the server with a command where that matters.

#include <memory>
#include <string>
#include <vector>

#include "clock.h"
#include "mysql_client.h"
#include "result.h"

namespace hale::agent {

class Fencer {
 public:
  virtual ~Fencer() = default;
  virtual Result<std::string> fence(SteadyTime deadline, const Clock& clock) = 0;
  virtual Result<std::string> unfence(SteadyTime deadline, const Clock& clock) = 0;
};

std::unique_ptr<Fencer> makePostgresFencer(std::string conninfo, std::string password);
std::unique_ptr<Fencer> makeMysqlFencer(MysqlTarget target);
// Both commands are absolute paths with their arguments; an empty unfence command means unfencing is
// refused (the operator lifts a hard fence by hand, then `halectl unfence`).
std::unique_ptr<Fencer> makeCommandFencer(std::vector<std::string> fence, std::vector<std::string> unfence);

}  // namespace hale::agent
