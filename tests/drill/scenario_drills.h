#pragma once

// Named fault scenarios on the drill's deployment (hale-drill --scenario NAME and the `drill` tests),
// each with the outcome hale must reach and watched by the invariant checker (invariants.h):
//   region-death     eu's agents, database (and with 3 aggregators its aggregator and etcd member) killed
//                    -> failover
//   hung-db          eu's postmaster SIGSTOPped (MariaDB: the server): new connections hang, open sessions
//                    keep writing until the fence -> failover
//   lagging-standby  us's replay paused 3 s before eu dies, with a 1 s RPO gate (max_lag) -> refused:
//                    no promotion that would lose the unapplied writes
//   dns-outage       eu dies, and the DNS server stalls 15 s mid-plan (as the promotion starts, so the
//                    DNS step meets it) -> failover, DNS late but changed exactly once
//   partial          2 of eu's 3 app nodes die, its database healthy -> no failover (region degraded)
//   partition        eu (its agents, aggregator and etcd member, each side in network namespaces) is cut
//                    off from us and the witness but stays alive, its database too -> failover, with eu's
//                    agent fencing its database before us is promoted (no STONITH: the lease alone), and
//                    eu still fenced once the partition heals
// Every scenario asserts: no instant with two writable primaries, no acknowledged write missing from the
// surviving primary beyond the RPO bound, the outcome expected, and for a failover the drill's end-state
// verification (verifyFailover).

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "invariants.h"
#include "scenario.h"

namespace hale::drill {

enum class Outcome { failover, no_failover, refused };
const char* toString(Outcome o);

struct ScenarioDrill {
  std::string name;
  std::string what;
  Outcome expected = Outcome::failover;
  bool freeze_db = false;                  // the fault: eu's database hangs (else region eu dies)
  bool pause_replay = false;               // us stops applying replication 3 s before the fault; max_lag 1 s
  std::chrono::milliseconds dns_stall{0};  // BIND stalls this long from the promotion step's start
  bool partition = false;                  // the fault: eu cut off (a partitionable deployment)
  int kill_agents = 0;                     // the fault: this many of eu's app nodes die (0: not this fault)
  std::string refusal;                     // an expected refusal names this (the gate that refused)
};

const std::vector<ScenarioDrill>& scenarioDrills();
// nullptr when unknown.
const ScenarioDrill* findScenarioDrill(const std::string& name);
// The deployment options a scenario needs (its RPO gate).
void prepareOptions(const ScenarioDrill& s, DrillOptions& options);

struct ScenarioResult {
  Outcome observed = Outcome::no_failover;
  FailoverRun run;
  InvariantReport invariants;
  std::vector<Check> checks;
  std::string watch_ended;  // why the watch stopped: the plan's end, no decision in time, the limit, a stop
  bool passed() const;
};

// Runs `s` on a started deployment: the watch, the fault, the plan followed as it happens (printed), the
// invariants and checks. Bounded: 45 s after the fault at most.
ScenarioResult runScenarioDrill(Deployment& d, const ScenarioDrill& s, const Printer& print,
                                const std::atomic<bool>& stop);

}  // namespace hale::drill
