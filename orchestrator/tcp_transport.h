// TCP transport over Boost.Asio: length-prefixed JSON frames (see message.h).
//
// The coordinator's end has no thread of its own: its sockets make progress inside Poll (and a
// Send writes at once when the socket has room), all on the coordinator's thread. A worker's end
// is a plain blocking socket used from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "orchestrator/transport.h"

namespace ensweep {

class TcpCoordinatorTransport : public CoordinatorTransport {
 public:
  // Listens on host:port; port 0 picks a free port (see Endpoint()). Throws UserError if the
  // address cannot be bound.
  TcpCoordinatorTransport(const std::string& host, int port);
  ~TcpCoordinatorTransport() override;

  std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) override;
  void Send(int peer, const Message& message) override;
  void Disconnect(int peer) override;
  std::string Endpoint() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "host:port" split into its parts; throws UserError unless the port is a number in 0..65535.
std::pair<std::string, std::string> SplitEndpoint(const std::string& endpoint);

// Connects to "host:port", retrying until `timeout` passes. Throws UserError if it cannot.
std::unique_ptr<WorkerChannel> ConnectTcp(const std::string& endpoint,
                                          std::chrono::milliseconds timeout);

}  // namespace ensweep
