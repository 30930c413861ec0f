// The MPI backend of a build without MPI (ENSWEEP_WITH_MPI=OFF): says so.
#include <stdexcept>

#include "collective/collective.h"

namespace ensweep::collective {

bool MpiAvailable() { return false; }

std::unique_ptr<Group> ConnectMpi(const GangInfo&, const RendezvousFn&, const Options&) {
  throw std::runtime_error(
      "mpi: this build has no MPI (configured with ENSWEEP_WITH_MPI=OFF); the gang's workers are "
      "MPI ranks, so rebuild with MPI");
}

}  // namespace ensweep::collective
