#include "proc_cpu.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace hale::bench {
namespace {

double ticksPerSecond() {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return ticks;
}

// Fields 14 and 15 (utime, stime) of a /proc stat line, in seconds, and the name between the parentheses
// (which may itself hold spaces and parentheses: the last ')' ends it). False if the line is cut.
bool parseStat(const std::string& line, std::string& name, double& seconds) {
  const size_t open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open || close + 2 > line.size()) {
    return false;
  }
  std::istringstream fields(line.substr(close + 2));  // from field 3, the state
  std::string field;
  double ticks = 0;
  int i = 3;
  for (; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
  }
  if (i <= 15) return false;
  name = line.substr(open + 1, close - open - 1);
  seconds = ticks / ticksPerSecond();
  return true;
}

}  // namespace

double machineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double busy = 0, value = 0;
  in >> cpu;
  for (int i = 0; i < 8 && in >> value; ++i) busy += (i == 3 || i == 4) ? 0 : value;  // idle, iowait
  return busy / ticksPerSecond();
}

double processCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line, name;
  double seconds = 0;
  return std::getline(in, line) && parseStat(line, name, seconds) ? seconds : 0;
}

std::map<std::string, double> cpuByThread(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string line, name;
    double seconds = 0;
    if (std::getline(in, line) && parseStat(line, name, seconds)) out[name] += seconds;  // else it ended meanwhile
  }
  return out;
}

}  // namespace hale::bench
