#pragma once

// Daemons keep their sockets in /run/hale and their state in /var/lib/hale, which the systemd units
// create (RuntimeDirectory=, StateDirectory=). Started any other way, a daemon creates the one missing
// directory its file lives in, as those units would (mode 0750, owned by whoever runs it), and otherwise
// says exactly what to create: it never makes a chain of directories someone mistyped.

#include <string>

#include "result.h"

namespace hale {

// Makes sure the directory holding `file` exists: creates it (0750) when only that last directory is
// missing. `setting` names the configuration key that chose the path, for the error.
Result<void> ensureParentDirectory(const std::string& file, const std::string& setting);

}  // namespace hale
