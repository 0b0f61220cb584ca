#pragma once

// CurveZMQ keys for the daemons a test starts, as an operator would make them with `halectl keygen`: one
// keypair per aggregator and per agent, in files under the test's TempDir (keys/<name>.key, mode 0600), so
// an aggregator and agents started separately agree. It also remembers which aggregator key answers on
// which endpoint, so an agent pointed at an endpoint gets the right server key.

#include <string>

#include "curve_keys.h"
#include "temp_dir.h"

namespace hale::test {

// The keypair called `name` in `dir`, made on first use.
curve::Keypair curveKeys(const TempDir& dir, const std::string& name);
// The file holding that keypair's secret.
std::string curveSecretFile(const TempDir& dir, const std::string& name);

// Records that the aggregator with `public_key` listens on `endpoint`; serverKeyAt returns it ("" if none).
void rememberServerKey(const std::string& endpoint, const std::string& public_key);
std::string serverKeyAt(const std::string& endpoint);

}  // namespace hale::test
