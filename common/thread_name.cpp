#include "thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <string>

namespace hale {

void nameThisThread(std::string_view name) {
  constexpr size_t kMax = 15;  // TASK_COMM_LEN less the terminating NUL
  size_t len = std::min(name.size(), kMax);
  if (len < name.size()) {
    while (len > 0 && (static_cast<unsigned char>(name[len]) & 0xC0) == 0x80) --len;  // not inside a character
  }
  // A failure leaves the inherited name, which is only less helpful.
  (void)::pthread_setname_np(::pthread_self(), std::string(name.substr(0, len)).c_str());
}

}  // namespace hale
