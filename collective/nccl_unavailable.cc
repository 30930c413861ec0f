// The NCCL backend of a build without NCCL (ENSWEEP_WITH_NCCL=OFF): says so.
#include <stdexcept>

#include "collective/collective.h"

namespace ensweep::collective {

bool NcclAvailable() { return false; }
int CudaDeviceCount() { return 0; }

std::unique_ptr<Group> ConnectNccl(const GangInfo&, const RendezvousFn&, int, const Options&) {
  throw std::runtime_error(
      "nccl: this build has no NCCL (configured with ENSWEEP_WITH_NCCL=OFF, or NCCL and the CUDA "
      "runtime were not found)");
}

}  // namespace ensweep::collective
