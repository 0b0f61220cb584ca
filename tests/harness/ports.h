#pragma once

// Free loopback ports for test servers. The kernel picks an unused ephemeral port; the harness retries a
// server start on a fresh port if another process takes it in between.

#include <cstdint>

namespace hale::test {

// A port free on 127.0.0.1 for TCP and, when `also_udp`, for UDP too (DNS needs both).
uint16_t freeLoopbackPort(bool also_udp = false);

}  // namespace hale::test
