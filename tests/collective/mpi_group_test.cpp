#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "collective/collective.h"

namespace ensweep::collective {
namespace {

#if ENSWEEP_WITH_MPI
TEST_CASE(
    "MPI ranks 2 and 1 form a gang that sums, broadcasts and meets at a barrier, while rank "
    "0 forms a gang of one",
    "[collective][mpi]") {
  // Open MPI refuses to start as root unless told so twice; containers and CI often run as root.
  const std::string as_root =
      geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
  const std::string command =
      as_root + "mpirun -np 3 --oversubscribe " + ENSWEEP_MPI_GANG_CHECK + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  INFO(output);
  CHECK(status == 0);
  for (const char* line : {"rank 0: ok", "rank 1: ok", "rank 2: ok"})
    CHECK_THAT(output, Catch::Contains(line));
}
#endif

TEST_CASE("the MPI backend refuses to form a gang in a process without MPI initialised",
          "[collective][mpi]") {
  GangInfo gang;
  gang.size = 2;
  gang.mpi_ranks = {0, 1};
  CHECK_THROWS_WITH(ConnectMpi(gang, [](const std::string& b) { return b; }),
                    Catch::Contains("mpi: ") &&
                        (Catch::Contains("not initialised") || Catch::Contains("no MPI")));
  CHECK(MpiAvailable() == bool(ENSWEEP_WITH_MPI));
}

}  // namespace
}  // namespace ensweep::collective
