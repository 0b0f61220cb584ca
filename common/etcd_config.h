#pragma once

// The [etcd] keys the agent and the aggregator share: where the store is, how to authenticate, and the
// cluster name every key lives under (/hale/<cluster>/...). Each daemon reads its own timing keys.

#include <string>

#include "config_reader.h"
#include "etcd_client.h"

namespace hale::etcd {

struct StoreConfig {
  Options options;
  std::string cluster = "hale";
  std::string password_file;  // read at start; the password never reaches a log or an answer
};

// Reads endpoints (required), cluster, ca_file, cert_file, key_file, username and password_file from `t`.
void readStoreConfig(ConfigTable& t, StoreConfig& out);
// The options with the password read from password_file (error code "config" when it cannot be read).
Result<Options> withPassword(const StoreConfig& store);

}  // namespace hale::etcd
