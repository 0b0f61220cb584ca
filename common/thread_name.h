#pragma once

// Names the calling thread, as `top -H`, `ps -L`, /proc/<pid>/task/<tid>/comm, gdb and perf show it, so an
// operator sees which of a daemon's threads spins or hangs. The kernel keeps 15 bytes: a longer name is cut
// there, on a UTF-8 character boundary.

#include <string_view>

namespace hale {

void nameThisThread(std::string_view name);

}  // namespace hale
