// GPU slots from the launcher's environment and the GPUs CUDA would see, without CUDA.
#include "orchestrator/gpu_slots.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ensweep {
namespace {

// Sets (or, with nullopt, unsets) environment variables for one scope and restores them after.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::optional<std::string>>> values) {
    for (const auto& [name, value] : values) {
      const char* old = getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      Set(name, value);
    }
  }
  ~ScopedEnv() {  // in reverse, so that a name set twice ends as it was before
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) Set(it->first, it->second);
  }

 private:
  static void Set(const std::string& name, const std::optional<std::string>& value) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_CASE("the local rank comes from the launcher's environment, Open MPI first",
          "[orchestrator][gpu]") {
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", std::nullopt}});
    CHECK_FALSE(LocalRankFromEnvironment().has_value());
  }
  {
    ScopedEnv env(
        {{"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"MPI_LOCALRANKID", "1"}, {"SLURM_LOCALID", "2"}});
    CHECK(LocalRankFromEnvironment() == 3);
  }
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt},
                   {"MPI_LOCALRANKID", "1"},
                   {"SLURM_LOCALID", "2"}});
    CHECK(LocalRankFromEnvironment() == 1);
  }
  {
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", "2"}});
    CHECK(LocalRankFromEnvironment() == 2);
  }
  // Values that are not non-negative integers are passed over.
  for (const char* bad : {"", "x", "-1", "2x", "1.5"}) {
    INFO(bad);
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::string(bad)},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", "5"}});
    CHECK(LocalRankFromEnvironment() == 5);
  }
}

TEST_CASE("visible GPUs follow CUDA_VISIBLE_DEVICES as CUDA reads it", "[orchestrator][gpu]") {
  const std::string uuid = "GPU-8f6c2b1e-0000-0000-0000-000000000000";
  struct Case {
    std::string value;
    int driver_gpus;  // 0: no driver information
    int expected;
  };
  const std::vector<Case> cases = {
      {"0", 4, 1},
      {"0,1,2,3", 4, 4},
      {"2,3", 4, 2},
      {" 1 , 2", 4, 2},       // entries are trimmed
      {"0,1,7", 2, 2},        // the list ends at an index the driver does not have
      {"0,1,7", 0, 3},        // unless the driver's count is unknown
      {"0,1,2,3,4,5", 4, 4},  // never more than the driver has
      {uuid + ",1", 4, 1},    // a UUID list ends at the first index
      {"1," + uuid, 4, 1},    // an index list ends at the first UUID
      {uuid + ",MIG-GPU-8f6c2b1e/1/0", 0, 2},
      {"", 4, 0},
      {"-1", 4, 0},
      {"0,-1,2", 4, 1},  // CUDA stops at the first invalid entry
      {"1,,2", 4, 1},
      {"0,0", 4, 0},  // a repeated device hides every GPU
  };
  for (const Case& c : cases) {
    INFO("CUDA_VISIBLE_DEVICES=\"" << c.value << "\" with " << c.driver_gpus << " GPUs");
    CHECK(CountVisibleDevices(c.value, c.driver_gpus) == c.expected);
  }
  // Through the environment, on this machine (whatever its driver lists, "-1" hides every GPU).
  {
    ScopedEnv env({{"CUDA_VISIBLE_DEVICES", std::string("-1")}});
    CHECK(VisibleGpuCount() == 0);
  }
  {
    ScopedEnv env({{"CUDA_VISIBLE_DEVICES", std::nullopt}});
    CHECK(VisibleGpuCount() == DriverGpuCount());
  }
}

}  // namespace
}  // namespace ensweep
