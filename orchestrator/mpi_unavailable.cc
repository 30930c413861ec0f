// The MPI interface (mpi_transport.h) in a build configured with -DENSWEEP_WITH_MPI=OFF: starting
// an MPI session is a clear error, so `ensweep run` under mpirun or srun exits with status 2 and
// says how to run instead.
#include <cstdlib>

#include "core/error.h"
#include "orchestrator/mpi_transport.h"

namespace ensweep {
namespace {

[[noreturn]] void NoMpi() {
  throw UserError(
      "this ensweep was built without MPI (-DENSWEEP_WITH_MPI=OFF), but it was started by an MPI "
      "launcher; run `ensweep run STUDY --workers N` without mpirun (or start more workers with "
      "`ensweep worker --connect`), or rebuild with Open MPI's development files installed");
}

}  // namespace

MpiSession::MpiSession() { NoMpi(); }

MpiSession::~MpiSession() = default;

void MpiSession::Abort(int status) { std::exit(status); }

int MpiSession::WorkersOnThisNode() { NoMpi(); }

std::unique_ptr<CoordinatorTransport> MakeMpiCoordinatorTransport() { NoMpi(); }

std::unique_ptr<WorkerChannel> MakeMpiWorkerChannel() { NoMpi(); }

}  // namespace ensweep
