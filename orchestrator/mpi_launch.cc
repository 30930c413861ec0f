// LaunchedByMpi (mpi_transport.h): reads the environment only, so builds with and without MPI share
// it.
#include <cstdlib>

#include "orchestrator/mpi_transport.h"

namespace ensweep {

bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return std::getenv("SLURM_NTASKS") != nullptr && std::getenv("SLURM_PROCID") != nullptr &&
         std::getenv("PMI_RANK") != nullptr;
}

}  // namespace ensweep
