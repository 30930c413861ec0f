// Run under `mpirun -np 3` by mpi_group_test.cpp: MPI rank 0 stands for the coordinator and stays
// out of the gang; MPI ranks 2 and 1 form a gang of two (gang rank 0 is MPI rank 2), the way a
// coordinator assigns workers; rank 0 also forms a gang of one on its own. Each rank prints one
// line "rank R: ok" or "rank R: FAILED: why" and exits 0 or 1.
#include <mpi.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "collective/collective.h"

namespace {

using namespace ensweep;

// The coordinator's relay, played with MPI_Bcast from the gang's rank 0 (every process calls it).
std::string RelayFrom(int root, const std::string& blob) {
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  int length = static_cast<int>(blob.size());
  MPI_Bcast(&length, 1, MPI_INT, root, MPI_COMM_WORLD);
  std::string text = world_rank == root ? blob : std::string(static_cast<size_t>(length), '\0');
  MPI_Bcast(text.data(), length, MPI_CHAR, root, MPI_COMM_WORLD);
  return text;
}

void Expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

void RunGangMember(int world_rank) {
  GangInfo gang;
  gang.size = 2;
  gang.key = "check/1/0";
  gang.mpi_ranks = {2, 1};
  gang.rank = world_rank == 2 ? 0 : 1;
  auto group =
      collective::ConnectMpi(gang, [&](const std::string& blob) { return RelayFrom(2, blob); });
  Expect(group->backend() == "mpi" && group->rank() == gang.rank && group->size() == 2,
         "rank and size");
  std::vector<float> floats(1000, static_cast<float>(gang.rank + 1));
  std::vector<double> doubles(10, 0.25 * (gang.rank + 1));
  group->AllReduceSum(floats.data(), floats.size(), collective::DType::kFloat32);
  group->AllReduceSum(doubles.data(), doubles.size(), collective::DType::kFloat64);
  Expect(floats.front() == 3.0f && floats.back() == 3.0f, "float sum");
  Expect(doubles.front() == 0.75 && doubles.back() == 0.75, "double sum");
  std::vector<int> shared(5, gang.rank == 1 ? 42 : 0);
  group->Broadcast(shared.data(), shared.size() * sizeof(int), 1);
  Expect(shared.front() == 42 && shared.back() == 42, "broadcast from gang rank 1");
  group->Barrier();
}

void RunAlone() {
  RelayFrom(2, "");  // the relay of the other gang's blob passes through every process
  GangInfo gang;
  gang.key = "check/2/0";
  gang.mpi_ranks = {0};
  auto group = collective::ConnectMpi(gang, [](const std::string&) -> std::string {
    throw std::logic_error("a gang of one needs no rendezvous");
  });
  double value = 1.5;
  group->AllReduceSum(&value, 1, collective::DType::kFloat64);
  Expect(value == 1.5, "a gang of one leaves the data alone");
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int world_rank = 0, world_size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  int status = 0;
  try {
    Expect(world_size == 3, "run with mpirun -np 3");
    if (world_rank == 0)
      RunAlone();
    else
      RunGangMember(world_rank);
    std::printf("rank %d: ok\n", world_rank);
  } catch (const std::exception& e) {
    std::printf("rank %d: FAILED: %s\n", world_rank, e.what());
    status = 1;
  }
  std::fflush(stdout);
  MPI_Finalize();
  return status;
}
