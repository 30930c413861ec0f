// The narrow seam between the coordinator's logic and how bytes move.
//
// CoordinatorTransport is the coordinator's end: it receives from any worker and sends to one.
// WorkerChannel is a worker's end. Implementations: in-process queues (tests), TCP over
// Boost.Asio (local and elastic workers), MPI (ranks under mpirun/srun).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "orchestrator/message.h"

namespace ensweep {

struct TransportEvent {
  enum class Kind {
    kMessage,  // `message` arrived from `peer`
    kLost,     // `peer` disconnected; `reason` says how
  };
  Kind kind = Kind::kMessage;
  int peer = -1;
  Message message;
  std::string reason;
};

// Used from one thread (the coordinator's). Implementations may use threads inside.
class CoordinatorTransport {
 public:
  virtual ~CoordinatorTransport() = default;
  // The next event, waiting up to `timeout`; nullopt if none arrived.
  virtual std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) = 0;
  // Queues a message to a peer. A message to a peer that is gone is dropped silently: the loss
  // arrives (or has arrived) as a kLost event.
  virtual void Send(int peer, const Message& message) = 0;
  // Drops a peer (e.g. one whose heartbeat timed out): later messages from it are not delivered.
  virtual void Disconnect(int peer) = 0;
  // Where workers can reach this coordinator ("127.0.0.1:41234", "mpi").
  virtual std::string Endpoint() const = 0;
};

// Used from one thread (the worker's main thread).
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  virtual void Send(const Message& message) = 0;  // throws ChannelClosed
  // Blocks until a message arrives; throws ChannelClosed if the coordinator is gone, or if a
  // receive timeout is set and nothing arrived within it.
  virtual Message Receive() = 0;
  // Bounds how long Receive waits (a silent coordinator is taken as lost). Channels whose peer
  // is trusted to be alive by their launcher (in-process, MPI) may ignore it.
  virtual void SetReceiveTimeout(std::chrono::milliseconds /*timeout*/) {}
  // A message that has already arrived (all of it, or its first bytes: the rest is then waited
  // for as Receive waits), without waiting for one; nullopt when none has. Throws as Receive
  // does. Lets a worker see an ABORT while its trainer calls KeepAlive (in-process, TCP and MPI
  // channels look); one that keeps this default sees an ABORT at its next report.
  virtual std::optional<Message> ReceiveArrived() { return std::nullopt; }
  // The address of this end of the connection as other machines reach it (TCP: the socket's local
  // address), advertised to the other members of a gang (GangInfo::advertise_host); "" when the
  // channel has none (the worker then gives its host name).
  virtual std::string LocalAddress() const { return ""; }
};

}  // namespace ensweep
