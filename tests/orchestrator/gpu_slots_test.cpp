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
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) Set(name, value);
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
  for (const char* bad : {"", "x", "-1", "2x"}) {
    INFO(bad);
    ScopedEnv env({{"OMPI_COMM_WORLD_LOCAL_RANK", std::string(bad)},
                   {"MPI_LOCALRANKID", std::nullopt},
                   {"SLURM_LOCALID", "5"}});
    CHECK(LocalRankFromEnvironment() == 5);
  }
}

TEST_CASE("visible GPUs follow CUDA_VISIBLE_DEVICES as CUDA reads it", "[orchestrator][gpu]") {
  const std::vector<std::pair<std::string, int>> cases = {
      {"0", 1},
      {"0,1,2,3", 4},
      {"2,3", 2},
      {"GPU-8f6c2b1e-0000-0000-0000-000000000000,1", 2},
      {"MIG-GPU-8f6c2b1e/1/0", 1},
      {"", 0},
      {"-1", 0},
      {"0,-1,2", 1},  // CUDA stops at the first invalid entry
      {"1,,2", 1},
  };
  for (const auto& [value, expected] : cases) {
    INFO("CUDA_VISIBLE_DEVICES=" << value);
    ScopedEnv env({{"CUDA_VISIBLE_DEVICES", value}});
    CHECK(VisibleGpuCount() == expected);
  }
}

}  // namespace
}  // namespace ensweep
