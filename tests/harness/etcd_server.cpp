#include "etcd_server.h"

#include <stdexcept>

#include "http_client.h"
#include "ports.h"

namespace hale::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

EtcdServer::EtcdServer() : dir_("etcd") {}
EtcdServer::~EtcdServer() { kill(); }

void EtcdServer::kill() {
  if (process_) process_->stop(SIGKILL, seconds{5});
}
void EtcdServer::freeze() { process_->signalGroup(SIGSTOP); }
void EtcdServer::thaw() { process_->signalGroup(SIGCONT); }

void EtcdServer::start() {
  for (int attempt = 0;; ++attempt) {
    client_port_ = freeLoopbackPort();
    peer_port_ = freeLoopbackPort();
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_ = std::make_unique<ChildProcess>(SpawnOptions{
        .argv = {"etcd",
                 "--name",
                 "hale-test",
                 "--data-dir",
                 dir_.path() + "/data" + std::to_string(attempt),
                 "--listen-client-urls",
                 client,
                 "--advertise-client-urls",
                 client,
                 "--listen-peer-urls",
                 peer,
                 "--initial-advertise-peer-urls",
                 peer,
                 "--initial-cluster",
                 "hale-test=" + peer,
                 "--initial-cluster-state",
                 "new",
                 "--logger",
                 "zap",
                 "--log-level",
                 "warn"},
        .log_path = dir_.path() + "/etcd.log",
    });
    const bool ready = waitFor(
        [&] {
          if (!process_->running()) return true;
          const HttpResponse r = httpPerform({.url = client + "/health", .timeout = milliseconds{500}});
          return r.status == 200 && r.body.find("\"health\":\"true\"") != std::string::npos;
        },
        seconds{30}, milliseconds{50});
    if (ready && process_->running()) return;
    const std::string log = process_->logTail();
    process_.reset();
    if (attempt >= 2 || log.find("address already in use") == std::string::npos) {
      throw std::runtime_error("etcd did not start:\n" + log);
    }
  }
}

}  // namespace hale::test
