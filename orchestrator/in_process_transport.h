// In-process transport: queues between the coordinator and worker threads of one process. Used by
// tests (no sockets, no MPI) and usable for single-process runs.
//
// Thread-safe: the coordinator's end is used from its thread, each worker channel from its own.
#pragma once

#include <memory>

#include "orchestrator/transport.h"

namespace ensweep {

class InProcessHub {
 public:
  InProcessHub();
  ~InProcessHub();

  CoordinatorTransport& coordinator();
  // A new worker's end; peers are numbered from 1 in order of creation.
  std::unique_ptr<WorkerChannel> Connect();
  // Simulates a crashed worker: the coordinator sees kLost and the worker's channel is closed.
  void Kill(int peer, const std::string& reason);

  struct Impl;  // shared with the worker channels

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ensweep
