#include <catch2/catch.hpp>

#include "collective/collective.h"

namespace ensweep::collective {
namespace {

// On a machine with a GPU these are skipped; bench/trainer/gpu_check.sh runs the GPU paths
// (tests/collective/nccl_gang_check.cpp).
TEST_CASE("forming an NCCL gang without a visible GPU fails at once, saying so",
          "[collective][nccl]") {
  if (CudaDeviceCount() > 0) {
    WARN("a GPU is visible: the no-GPU path is not tested here");
    return;
  }
  GangInfo gang;
  gang.size = 2;
  gang.key = "study/3/1";
  bool rendezvous_called = false;
  const auto rendezvous = [&](const std::string& blob) {
    rendezvous_called = true;
    return blob;
  };
  if (NcclAvailable()) {
    CHECK_THROWS_WITH(ConnectNccl(gang, rendezvous, 0),
                      Catch::Contains("nccl: no GPU visible") && Catch::Contains("study/3/1"));
  } else {
    CHECK_THROWS_WITH(ConnectNccl(gang, rendezvous, 0),
                      Catch::Contains("nccl: this build has no NCCL"));
  }
  CHECK_FALSE(rendezvous_called);  // the other members are not sent a blob they cannot use
}

}  // namespace
}  // namespace ensweep::collective
