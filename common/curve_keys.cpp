#include "curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <zmq.h>

#include "secret_file.h"

namespace hale::curve {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n";

std::string_view trimmed(std::string_view s) {
  const size_t first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kWhitespace) - first + 1);
}

Result<void> writeNew(const std::string& path, const std::string& line, mode_t mode, std::optional<gid_t> group) {
  // O_EXCL (and O_NOFOLLOW): never replace a key, never write through a link; the mode is set at creation,
  // so the secret is never readable by others. A group is given on the open file before a byte is written,
  // never by path afterwards (a path can be swapped for a link in between).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return makeError("write_failed", "cannot create " + path + ": " + std::strerror(errno));
  if (group && (::fchown(fd, static_cast<uid_t>(-1), *group) != 0 || ::fchmod(fd, 0640) != 0)) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return makeError("write_failed", "cannot give " + path + " to group " + std::to_string(*group) + ": " + why);
  }
  const std::string text = line + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    ::unlink(path.c_str());
    return makeError("write_failed", "cannot write " + path + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

Result<Keypair> generate() {
  std::array<char, kKeyTextBytes + 1> pub{};
  std::array<char, kKeyTextBytes + 1> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return makeError("no_curve", std::string("cannot make a CURVE keypair: ") + zmq_strerror(zmq_errno()));
  }
  return Keypair{pub.data(), sec.data()};
}

bool isKey(std::string_view text) { return !keyBytes(text).empty(); }

std::string keyBytes(std::string_view text) {
  if (text.size() != kKeyTextBytes) return {};
  const std::string z85(text);  // zmq_z85_decode wants a terminated string
  std::array<uint8_t, kKeyBytes> raw{};
  if (zmq_z85_decode(raw.data(), z85.c_str()) == nullptr) return {};
  return {reinterpret_cast<const char*>(raw.data()), raw.size()};
}

std::string keyText(std::string_view bytes) {
  if (bytes.size() != kKeyBytes) return {};
  std::array<char, kKeyTextBytes + 1> z85{};
  if (zmq_z85_encode(z85.data(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == nullptr) return {};
  return z85.data();
}

Result<Keypair> loadSecretKey(const std::string& path) {
  auto text = readSecretFile(path);
  if (!text) return text.error();
  const std::string_view key = trimmed(text.value());
  if (!isKey(key)) {
    return makeError("bad_key", "secret key file " + path +
                                    " does not hold a CURVE secret key (40 characters of Z85; make one with "
                                    "`halectl keygen`)");
  }
  Keypair out;
  out.secret_key = std::string(key);
  std::array<char, kKeyTextBytes + 1> pub{};
  if (zmq_curve_public(pub.data(), out.secret_key.c_str()) != 0) {
    return makeError("no_curve", std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  }
  out.public_key = pub.data();
  return out;
}

Result<void> writeKeypair(const std::string& base, const Keypair& keys, std::optional<gid_t> secret_group) {
  if (auto r = writeNew(base + ".key", keys.secret_key, 0600, secret_group); !r) return r;
  if (auto r = writeNew(base + ".pub", keys.public_key, 0644, std::nullopt); !r) {
    ::unlink((base + ".key").c_str());  // both or neither: a rerun must not find half a keypair
    return r;
  }
  return {};
}

}  // namespace hale::curve
