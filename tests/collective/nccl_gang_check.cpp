// The NCCL backend on a real GPU, run by bench/trainer/gpu_check.sh (and by ctest, which skips it
// when no GPU is visible):
//   collective_nccl_gang_check MEMBERS
// forms a gang of MEMBERS ranks, one thread each, all on GPU 0, sums float32 and float64 device
// buffers, broadcasts from the last rank and meets at a barrier. Expected: with 1 member, "ok";
// with 2 members on one GPU, NCCL may refuse ranks that share a device (then the members throw
// and this prints "refused"). Never a hang: every wait is bounded by a 60 s limit.
// Exit status: 0 ok, 1 wrong result or unexpected error, 3 refused by NCCL, 77 no GPU visible.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "collective/collective.h"
#include "tests/collective/gang_harness.h"

namespace {

using namespace ensweep;
using namespace ensweep::collective;

template <typename T>
std::vector<T> RoundTrip(Group& group, std::vector<T> host, DType dtype) {
  void* device = nullptr;
  const size_t bytes = host.size() * sizeof(T);
  if (cudaMalloc(&device, bytes) != cudaSuccess) throw std::runtime_error("cudaMalloc failed");
  cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice);
  group.AllReduceSum(device, host.size(), dtype);
  cudaMemcpy(host.data(), device, bytes, cudaMemcpyDeviceToHost);
  cudaFree(device);
  return host;
}

void Member(int rank, int members, testing::Board& board) {
  GangInfo gang;
  gang.rank = rank;
  gang.size = members;
  gang.key = "gpu-check/0/0";
  Options options;
  options.timeout = std::chrono::seconds(60);
  auto group = ConnectNccl(gang, board.For(rank), 0, options);
  const int expected = members * (members + 1) / 2;  // the sum of rank + 1 over the members
  const auto floats = RoundTrip(*group, std::vector<float>(1 << 20, rank + 1.0f), DType::kFloat32);
  const auto doubles = RoundTrip(*group, std::vector<double>(1000, rank + 1.0), DType::kFloat64);
  if (floats.front() != expected || floats.back() != expected || doubles.back() != expected)
    throw std::logic_error("wrong sum: " + std::to_string(floats.front()) + ", expected " +
                           std::to_string(expected));
  void* shared = nullptr;
  cudaMalloc(&shared, sizeof(int));
  const int mine = 100 + rank;
  cudaMemcpy(shared, &mine, sizeof mine, cudaMemcpyHostToDevice);
  group->Broadcast(shared, sizeof(int), members - 1);
  int got = 0;
  cudaMemcpy(&got, shared, sizeof got, cudaMemcpyDeviceToHost);
  cudaFree(shared);
  if (got != 100 + members - 1) throw std::logic_error("wrong broadcast: " + std::to_string(got));
  group->Barrier();
}

}  // namespace

int main(int argc, char** argv) {
  const int members = argc > 1 ? std::atoi(argv[1]) : 1;
  if (members < 1) {
    std::fprintf(stderr, "usage: collective_nccl_gang_check MEMBERS\n");
    return 2;
  }
  if (CudaDeviceCount() == 0) {
    std::printf("nccl gang of %d: skipped, no GPU visible\n", members);
    return 77;
  }
  testing::Board board;
  const auto errors = testing::OnThreads(members, [&](int r) { Member(r, members, board); });
  int status = 0;
  for (int r = 0; r < members; ++r) {
    if (!errors[r]) continue;
    bool logic = false;
    try {
      std::rethrow_exception(errors[r]);
    } catch (const std::logic_error&) {
      logic = true;
    } catch (...) {
    }
    std::printf("nccl gang of %d: member %d %s: %s\n", members, r, logic ? "FAILED" : "refused",
                testing::Message(errors[r]).c_str());
    status = logic ? 1 : (status == 1 ? 1 : 3);
  }
  if (status == 0) std::printf("nccl gang of %d on GPU 0: ok\n", members);
  return status;
}
