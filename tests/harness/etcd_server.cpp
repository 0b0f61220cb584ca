#include "etcd_server.h"

#include <stdexcept>

#include "http_client.h"
#include "ports.h"

namespace hale::test {
namespace {

// etcd at `client` says it is healthy within 30 s, and its process still runs.
bool becameHealthy(ChildProcess& process, const std::string& client) {
  const bool ready = waitFor(
      [&] {
        if (!process.running()) return true;
        const HttpResponse r = httpPerform({.url = client + "/health", .timeout = std::chrono::milliseconds{500}});
        return r.status == 200 && r.body.find("\"health\":\"true\"") != std::string::npos;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{50});
  return ready && process.running();
}

// One member's command line, alone (`initial_cluster` naming only itself) or in a cluster.
std::vector<std::string> memberArgv(const std::string& name, const std::string& data_dir, const std::string& client,
                                    const std::string& peer, const std::string& initial_cluster) {
  return {"etcd",
          "--name",
          name,
          "--data-dir",
          data_dir,
          "--listen-client-urls",
          client,
          "--advertise-client-urls",
          client,
          "--listen-peer-urls",
          peer,
          "--initial-advertise-peer-urls",
          peer,
          "--initial-cluster",
          initial_cluster,
          "--initial-cluster-token",
          "hale-test",
          "--initial-cluster-state",
          "new",
          "--logger",
          "zap",
          "--log-level",
          "warn"};
}

}  // namespace

using std::chrono::milliseconds;
using std::chrono::seconds;

EtcdServer::EtcdServer() : dir_("etcd") {}
EtcdServer::~EtcdServer() { kill(); }

void EtcdServer::kill() {
  if (process_) process_->stop(SIGKILL, seconds{5});
}
void EtcdServer::freeze() { process_->freeze(); }
void EtcdServer::thaw() { process_->thaw(); }

void EtcdServer::start() {
  for (int attempt = 0;; ++attempt) {
    client_port_ = freeLoopbackPort();
    peer_port_ = freeLoopbackPort();
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_ = std::make_unique<ChildProcess>(SpawnOptions{
        .argv =
            memberArgv("hale-test", dir_.path() + "/data" + std::to_string(attempt), client, peer, "hale-test=" + peer),
        .log_path = dir_.path() + "/etcd.log",
    });
    if (becameHealthy(*process_, client)) return;
    const std::string log = process_->logTail();
    process_.reset();
    if (attempt >= 2 || log.find("address already in use") == std::string::npos) {
      throw std::runtime_error("etcd did not start:\n" + log);
    }
  }
}

EtcdCluster::EtcdCluster(int members, milliseconds election_timeout)
    : dir_("etcd-cluster"), election_timeout_(election_timeout), members_(static_cast<size_t>(members)) {}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) kill(i);
}

void EtcdCluster::place(int member, std::string address, std::vector<std::string> wrapper) {
  Member& m = members_.at(static_cast<size_t>(member));
  m.address = std::move(address);
  m.wrapper = std::move(wrapper);
}

std::string EtcdCluster::endpoint(int member) const {
  const Member& m = members_.at(static_cast<size_t>(member));
  return "http://" + m.address + ":" + std::to_string(m.client_port);
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  out.reserve(members_.size());
  for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
  return out;
}

void EtcdCluster::kill(int member) {
  Member& m = members_.at(static_cast<size_t>(member));
  if (m.process) m.process->stop(SIGKILL, seconds{5});
}
void EtcdCluster::freeze(int member) { members_.at(static_cast<size_t>(member)).process->freeze(); }
void EtcdCluster::thaw(int member) { members_.at(static_cast<size_t>(member)).process->thaw(); }

void EtcdCluster::spawn(size_t i) {
  const std::string name = "m" + std::to_string(i);
  std::vector<std::string> argv = members_[i].wrapper;
  argv.insert(argv.end(), members_[i].argv.begin(), members_[i].argv.end());
  members_[i].process = std::make_unique<ChildProcess>(SpawnOptions{
      .argv = argv,
      .log_path = dir_.path() + "/" + name + ".log",
  });
}

void EtcdCluster::waitHealthy(size_t i) {
  if (!becameHealthy(*members_[i].process, endpoint(static_cast<int>(i)))) {
    throw std::runtime_error("etcd member m" + std::to_string(i) + " did not start:\n" +
                             members_[i].process->logTail());
  }
}

void EtcdCluster::restart(int member) {
  const auto i = static_cast<size_t>(member);
  kill(member);
  spawn(i);
  waitHealthy(i);
}

void EtcdCluster::start() {
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].client_port = freeLoopbackPort();
    members_[i].peer_port = freeLoopbackPort();
    initial_cluster_ += (i ? "," : "") + std::string("m") + std::to_string(i) + "=http://" + members_[i].address + ":" +
                        std::to_string(members_[i].peer_port);
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    const std::string name = "m" + std::to_string(i);
    const std::string client = endpoint(static_cast<int>(i));
    const std::string peer = "http://" + members_[i].address + ":" + std::to_string(members_[i].peer_port);
    members_[i].argv = memberArgv(name, dir_.path() + "/" + name, client, peer, initial_cluster_);
    // A member cut off by a partition campaigns with ever higher terms; without pre-vote its return
    // deposes the leader and stalls the cluster for an election (seen: the new primary's agent then
    // missed its renewals and fenced itself for a second). etcd 3.5 turns it on by default; 3.4 does not.
    members_[i].argv.push_back("--pre-vote=true");
    if (election_timeout_.count() > 0) {
      members_[i].argv.insert(members_[i].argv.end(),
                              {"--election-timeout", std::to_string(election_timeout_.count()), "--heartbeat-interval",
                               std::to_string(election_timeout_.count() / 10)});
    }
    spawn(i);
  }
  for (size_t i = 0; i < members_.size(); ++i) waitHealthy(i);
}

}  // namespace hale::test
