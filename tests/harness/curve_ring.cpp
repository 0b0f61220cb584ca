#include "curve_ring.h"

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace hale::test {
namespace {

std::mutex& ringMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::string>& serverKeys() {
  static std::map<std::string, std::string> keys;
  return keys;
}

}  // namespace

std::string curveSecretFile(const TempDir& dir, const std::string& name) {
  return dir.path() + "/keys/" + name + ".key";
}

curve::Keypair curveKeys(const TempDir& dir, const std::string& name) {
  std::lock_guard lock(ringMutex());
  const std::string secret = curveSecretFile(dir, name);
  if (!std::filesystem::exists(secret)) {
    dir.makeSubdir("keys");
    auto fresh = curve::generate();
    if (!fresh) throw std::runtime_error("curve keys: " + fresh.error().message);
    if (auto w = curve::writeKeypair(dir.path() + "/keys/" + name, fresh.value()); !w)
      throw std::runtime_error("curve keys: " + w.error().message);
  }
  auto keys = curve::loadSecretKey(secret);
  if (!keys) throw std::runtime_error("curve keys: " + keys.error().message);
  return keys.value();
}

void rememberServerKey(const std::string& endpoint, const std::string& public_key) {
  std::lock_guard lock(ringMutex());
  serverKeys()[endpoint] = public_key;
}

std::string serverKeyAt(const std::string& endpoint) {
  std::lock_guard lock(ringMutex());
  auto it = serverKeys().find(endpoint);
  return it == serverKeys().end() ? std::string() : it->second;
}

}  // namespace hale::test
