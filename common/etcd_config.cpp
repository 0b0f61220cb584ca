#include "etcd_config.h"

#include "http_client.h"
#include "secret_file.h"

namespace hale::etcd {

void readStoreConfig(ConfigTable& t, StoreConfig& out) {
  t.get("endpoints", out.options.endpoints, Presence::required);
  if (auto driver = requireHttpDriver(); !driver) t.error("endpoints", driver.error().message);
  for (const std::string& e : out.options.endpoints) {
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
      t.error("endpoints", "\"" + e + "\" is not an http:// or https:// URL");
  }
  t.get("cluster", out.cluster);
  if (out.cluster.empty() || out.cluster.find('/') != std::string::npos)
    t.error("cluster", "must be a name without '/'");
  t.get("ca_file", out.options.ca_file);
  t.get("cert_file", out.options.cert_file);
  t.get("key_file", out.options.key_file);
  if (out.options.cert_file.empty() != out.options.key_file.empty())
    t.error("cert_file", "cert_file and key_file go together");
  t.get("username", out.options.username);
  t.get("password_file", out.password_file);
  if (out.options.username.empty() != out.password_file.empty())
    t.error("username", "username and password_file go together");
}

Result<Options> withPassword(const StoreConfig& store) {
  Options o = store.options;
  if (store.password_file.empty()) return o;
  auto password = readSecretFile(store.password_file);
  if (!password) return makeError("config", "etcd.password_file: " + password.error().message);
  o.password = password.value();
  return o;
}

}  // namespace hale::etcd
