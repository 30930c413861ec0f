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
// SLURM_PROCID and PMI_RANK all are. srun without a PMI plug-in is not an MPI launch: `ensweep
// run` refuses it when it starts more than one task (cluster_env.h, SrunStepTasks).
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
  // The worker ranks on this rank's node (ranks that share its memory, MPI_COMM_TYPE_SHARED, less
  // the coordinator if it is one of them): asked of MPI, so right under srun --mpi=pmix too,
  // where no launcher variable says it. Collective: every rank calls it once, at the start.
  int WorkersOnThisNode();
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
