#pragma once

// Where an agent's heartbeats go and how they are sealed (configured in agent.toml, used by the publisher).

#include <string>
#include <vector>

#include "curve_keys.h"

namespace hale::agent {

// One aggregator: its endpoint, and with CurveZMQ its public key (empty in insecure mode).
struct AggregatorTarget {
  std::string endpoint;
  std::string public_key;

  bool operator==(const AggregatorTarget&) const = default;
};

// Where heartbeats go and how they are sealed: with CurveZMQ every connection is encrypted and
// authenticated with the agent's own keypair, and only an aggregator holding the listed key can accept it.
struct PublisherTransport {
  std::vector<AggregatorTarget> aggregators;
  curve::Keypair keys;  // empty in insecure mode (plaintext)

  bool operator==(const PublisherTransport&) const = default;
};

}  // namespace hale::agent
