#include "orchestrator/gpu_slots.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ensweep {
namespace {

std::optional<int> NonNegativeInteger(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  if (text.size() > 7) return std::nullopt;  // no machine has ten million GPUs
  return std::stoi(text);
}

std::string Trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

bool IsUuid(const std::string& entry) {
  return entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0;
}

}  // namespace

std::optional<int> LocalRankFromEnvironment() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    if (auto rank = NonNegativeInteger(Trimmed(value))) return rank;
  }
  return std::nullopt;
}

int DriverGpuCount() {
  std::error_code error;
  int count = 0;
  std::filesystem::directory_iterator it("/proc/driver/nvidia/gpus", error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) ++count;
  return count;
}

int CountVisibleDevices(const std::string& value, int driver_gpus) {
  std::vector<std::string> entries;
  std::istringstream in(value);
  std::string entry;
  while (std::getline(in, entry, ',')) entries.push_back(Trimmed(entry));
  // The first entry decides how the list is read: GPU/MIG UUIDs, or indices. Reading stops at the
  // first entry of the other kind, at an index the driver does not have, or at "-1".
  const bool uuids = !entries.empty() && IsUuid(entries[0]);
  std::set<std::string> seen;
  for (const std::string& e : entries) {
    const auto index = NonNegativeInteger(e);
    const bool valid = uuids ? IsUuid(e) : index && (driver_gpus <= 0 || *index < driver_gpus);
    if (!valid) break;
    if (!seen.insert(uuids ? e : std::to_string(*index)).second) return 0;  // a repeat: no GPU
  }
  const int count = static_cast<int>(seen.size());
  return driver_gpus > 0 ? std::min(count, driver_gpus) : count;
}

int VisibleGpuCount() {
  const int driver_gpus = DriverGpuCount();
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    return CountVisibleDevices(visible, driver_gpus);
  }
  return driver_gpus;
}

}  // namespace ensweep
