#pragma once

// How every hale program's main() runs: nothing escapes it unreported. Its own file, so a program that
// is no daemon (halectl) does not link what daemon.h brings (libcurl's initialisation among it).

namespace hale {

// Runs `run`; an exception escaping it is printed as "fatal: ..." and becomes exit code 2, instead of an
// abort without a word.
int runGuarded(int (*run)(int, char**), int argc, char** argv);

}  // namespace hale
