// Communicators for gang trials (core/trainer.h's GangInfo): the members of one data-parallel
// trial sum their gradients and share their initial weights through one of these. Tensors on top
// of collective/'s raw buffers; which backend a gang uses is decided by ConnectGang.
//
// Every member calls the same collectives in the same order with tensors of the same shapes and
// dtypes. Each call finishes within the options' timeout or throws std::runtime_error naming the
// backend and what failed (a member lost, a timeout); after that the communicator is broken
// (every later call throws) and the trial should fail, which the coordinator turns into a retry
// of the whole gang.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep {

struct CommStats {
  int64_t allreduce_calls = 0;   // AllReduceSum calls
  int64_t allreduce_bytes = 0;   // bytes of the tensors summed
  double allreduce_seconds = 0;  // wall time inside AllReduceSum
};

// One gang attempt's communicator; not thread-safe; all members call each collective in the same
// order.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "local", "tcp", "mpi", "nccl"
  // Sums every tensor over the members, in place. Tensors contiguous, float32 or float64, on the
  // communicator's device; packed into buckets of about bucket_bytes. The sum is taken in rank
  // order so every member gets bit-identical results. ("nccl" and "mpi" use their library's
  // reduction order; every member still gets the same result.)
  virtual void AllReduceSum(const std::vector<torch::Tensor>& tensors) = 0;
  // Copies root's tensors into every other member's, in place. Contiguous, any dtype.
  virtual void Broadcast(const std::vector<torch::Tensor>& tensors, int root) = 0;
  virtual void Barrier() = 0;
  virtual CommStats stats() const = 0;
};

struct CommOptions {
  // Limit for forming the communicator and for each collective.
  std::chrono::milliseconds timeout{300000};
  // Tensors are packed into buckets of about this size (a larger tensor is summed on its own).
  size_t bucket_bytes = 25u << 20;
};

// Forms the gang's communicator through context.Rendezvous: nccl when `device` is CUDA and the
// build has NCCL; mpi when gang.mpi_ranks is non-empty; tcp otherwise. Throws std::runtime_error
// (naming the backend and what failed) on failure or timeout, never hangs. A gang of size 1 gets
// a communicator of one member without calling Rendezvous. A CUDA device without an index means
// cuda:0 to NCCL. Without NCCL in the build, CUDA tensors are summed over TCP or MPI through host
// copies.
std::unique_ptr<Communicator> ConnectGang(const GangInfo& gang, TrialContext& context,
                                          const torch::Device& device,
                                          const CommOptions& options = {});

// For tests: `size` communicators joined in memory, one per thread of one process (CPU tensors).
std::vector<std::unique_ptr<Communicator>> MakeLocalGroup(int size);
std::vector<std::unique_ptr<Communicator>> MakeLocalGroup(int size, const CommOptions& options);

}  // namespace ensweep
