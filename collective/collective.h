// Collective communication over raw buffers for the members of one gang (a data-parallel trial
// trained by several workers at once, core/trainer.h's GangInfo). Torch-free, so the transports
// are tested under the sanitizers; worker/communicator.h puts tensors on top.
//
// Contract shared by every backend:
// - One Group per gang attempt and member. Not thread-safe: one thread calls it. Every member
//   calls the same collectives in the same order with the same counts and types.
// - AllReduceSum sums `count` elements in place over the members. For "local", "tcp" and "mpi"
//   the buffer is host memory; for "nccl" it is device memory on the group's GPU (memory()).
//   "local" and "tcp" add in rank order, ((x0 + x1) + x2) + ..., so every member gets the same
//   bits, and the same bits as a serial sum; "mpi" and "nccl" use their library's reduction order
//   (every member still gets the same result from one MPI_Allreduce or ncclAllReduce call).
// - Every call finishes within the group's timeout or throws std::runtime_error naming the
//   backend and what failed (a member lost, a timeout, a refused frame). After an error the group
//   is broken: every later call throws at once, and the other members see the loss.
// - Destroying a group never blocks for long: sockets are closed, an NCCL communicator that has
//   failed is aborted.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep::collective {

enum class DType { kFloat32, kFloat64 };
enum class Memory { kHost, kDevice };

size_t DTypeSize(DType dtype);

struct Options {
  // Limit for each collective.
  std::chrono::milliseconds timeout{300000};
  // Limit for forming the group (members may start at different times); 0 means `timeout`.
  std::chrono::milliseconds form_timeout{0};
  std::chrono::milliseconds FormTimeout() const {
    return form_timeout.count() > 0 ? form_timeout : timeout;
  }
};

class Group {
 public:
  virtual ~Group() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "local", "tcp", "mpi", "nccl"
  virtual Memory memory() const = 0;        // where the buffers passed to collectives live
  virtual void AllReduceSum(void* data, size_t count, DType dtype) = 0;
  virtual void Broadcast(void* data, size_t bytes, int root) = 0;
  virtual void Barrier() = 0;
};

// Exchanges rank 0's blob with the other members: rank 0 passes its blob and gets it back, the
// others pass "" and get rank 0's (TrialContext::Rendezvous).
using RendezvousFn = std::function<std::string(const std::string&)>;

// `size` groups joined in memory, one per thread of this process; collectives wait for the other
// members up to options.timeout. Destroying one member's group makes the others' calls throw.
std::vector<std::unique_ptr<Group>> MakeLocalGroups(int size, const Options& options = {});

// TCP over POSIX sockets (collective/tcp_group.cc): rank 0 listens on gang.advertise_host (all
// loopback when empty) at a port the system chooses, and its blob carries host, port and a fresh
// 32-byte random secret that every joiner must present. A gang of size 1 opens no socket.
std::unique_ptr<Group> ConnectTcp(const GangInfo& gang, const RendezvousFn& rendezvous,
                                  const Options& options = {});

// MPI over the members' MPI_COMM_WORLD ranks (gang.mpi_ranks). Needs MPI initialised in this
// process (the worker's MPI transport does it) and a build with ENSWEEP_WITH_MPI; throws
// otherwise. Timeouts are honoured by polling non-blocking collectives; forming the group blocks
// in MPI_Comm_create_group, which MPI cannot time out (every member reaches it right after the
// rendezvous). A member that dies under mpirun normally makes mpirun abort the whole job (Open
// MPI's default), so the others rarely see an error.
std::unique_ptr<Group> ConnectMpi(const GangInfo& gang, const RendezvousFn& rendezvous,
                                  const Options& options = {});
bool MpiAvailable();  // built with MPI

// NCCL on CUDA device `device_index` (collective/nccl_group.cc); rank 0 creates the unique id
// and passes it in its blob. Throws "no GPU visible" when the CUDA runtime sees none, and when
// the build has no NCCL (ENSWEEP_WITH_NCCL=OFF).
std::unique_ptr<Group> ConnectNccl(const GangInfo& gang, const RendezvousFn& rendezvous,
                                   int device_index, const Options& options = {});
bool NcclAvailable();  // built with NCCL

// The number of CUDA devices the runtime sees, or 0 when there is none, no driver, or no CUDA in
// this build. Never throws.
int CudaDeviceCount();

}  // namespace ensweep::collective
