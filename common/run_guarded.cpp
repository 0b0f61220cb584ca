#include "run_guarded.h"

#include <exception>
#include <iostream>

namespace hale {

int runGuarded(int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fatal: unknown exception\n";
  }
  return 2;
}

}  // namespace hale
