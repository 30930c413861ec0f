// MPI transport: rank 0 is the coordinator, every other rank a worker (see message.h).
//
// The only file in ensweep that includes mpi.h is mpi_transport.cc; a build configured with
// -DENSWEEP_WITH_MPI=OFF links mpi_unavailable.cc instead, whose MpiSession throws a UserError. MPI
// is initialised only when the environment says the process was started by an MPI launcher
// (LaunchedByMpi()). Waiting is done by probing and sleeping briefly rather than in a blocking
// receive, because Open MPI's blocking receive spins a core, which an idle worker must not take
// from a training one.
#pragma once

#include <memory>

#include "orchestrator/transport.h"

namespace ensweep {

// True if OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE is set, or (srun with PMI) SLURM_NTASKS,
// SLURM_PROCID and PMI_RANK all are. srun without a PMI plug-in is not recognised: each task would
// then run a study of its own.
bool LaunchedByMpi();

// Initialises MPI on construction and finalises it on destruction. One per process.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ends every rank of the job (used when the coordinator fails and workers would wait forever).
  [[noreturn]] void Abort(int status);

 private:
  int rank_ = 0;
  int size_ = 1;
};

// Rank 0's end. Peers are ranks 1..size-1.
std::unique_ptr<CoordinatorTransport> MakeMpiCoordinatorTransport();
// A worker rank's end, talking to rank 0.
std::unique_ptr<WorkerChannel> MakeMpiWorkerChannel();

}  // namespace ensweep
