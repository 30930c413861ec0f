#include "orchestrator/gpu_slots.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

namespace ensweep {
namespace {

std::optional<int> NonNegativeInteger(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0 || value > 1 << 20) return std::nullopt;
  return static_cast<int>(value);
}

}  // namespace

std::optional<int> LocalRankFromEnvironment() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    if (auto rank = NonNegativeInteger(std::getenv(name))) return rank;
  }
  return std::nullopt;
}

int VisibleGpuCount() {
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    // CUDA stops at the first entry that is not a device (an index or a GPU-/MIG- UUID); "-1" is
    // the usual way to hide every GPU.
    int count = 0;
    std::istringstream entries(visible);
    std::string entry;
    while (std::getline(entries, entry, ',')) {
      const bool index = !entry.empty() && NonNegativeInteger(entry.c_str()).has_value();
      const bool uuid = entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0;
      if (!index && !uuid) break;
      ++count;
    }
    return count;
  }
  std::error_code error;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", error)) {
    if (entry.is_directory(error)) ++count;
  }
  return count;
}

}  // namespace ensweep
