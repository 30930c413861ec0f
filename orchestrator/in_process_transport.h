// In-process transport: queues between the coordinator and worker threads of one process. Used by
// tests (no sockets, no MPI) and usable for single-process runs.
//
// Messages travel as their JSON text (EncodeMessage / DecodeMessage), as over TCP: what reaches
// either side has been through the same framing decoder. Text from a worker that does not decode
// drops that worker (the coordinator sees kLost with the error); text from the coordinator that
// does not decode makes the worker's Receive throw ProtocolError.
//
// Thread-safe: the coordinator's end is used from its thread, each worker channel from its own.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "orchestrator/transport.h"

namespace ensweep {

class InProcessChannel;

class InProcessHub {
 public:
  InProcessHub();
  ~InProcessHub();

  CoordinatorTransport& coordinator();
  // A new worker's end; peers are numbered from 1 in order of creation. With
  // `honour_receive_timeout`, its Receive gives up after the time set by SetReceiveTimeout
  // (throwing ChannelClosed), as a TCP channel does; without, SetReceiveTimeout is ignored.
  std::unique_ptr<InProcessChannel> Connect(bool honour_receive_timeout = false);
  // Simulates a crashed worker: the coordinator sees kLost and the worker's channel is closed.
  void Kill(int peer, const std::string& reason);

  struct Impl;  // shared with the worker channels

 private:
  std::shared_ptr<Impl> impl_;
};

class InProcessChannel : public WorkerChannel {
 public:
  InProcessChannel(std::shared_ptr<InProcessHub::Impl> hub, int peer, bool honour_timeout);
  ~InProcessChannel() override;  // the coordinator sees this worker lost

  void Send(const Message& message) override;
  Message Receive() override;
  std::optional<Message> ReceiveArrived() override;
  void SetReceiveTimeout(std::chrono::milliseconds timeout) override;
  std::string LocalAddress() const override { return "127.0.0.1"; }

  // Sends raw text as one frame, as a broken or hostile worker might (tests).
  void SendText(const std::string& text);
  int peer() const { return peer_; }

 private:
  std::shared_ptr<InProcessHub::Impl> hub_;
  int peer_;
  bool honour_timeout_;
  std::optional<std::chrono::milliseconds> timeout_;
};

}  // namespace ensweep
