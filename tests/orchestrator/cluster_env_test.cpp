// What a process learns about its CPUs and its launcher: threads per worker, srun without MPI.
#include "orchestrator/cluster_env.h"

#include <sched.h>
#include <stdlib.h>

#include <catch2/catch.hpp>

using namespace ensweep;

namespace {

// Sets an environment variable for one scope, restoring what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("workers share their CPUs unless the scheduler gave each task its own",
          "[orchestrator][cluster]") {
  CHECK(ThreadsPerWorker(16, 4, std::nullopt) == 4);
  CHECK(ThreadsPerWorker(16, 3, std::nullopt) == 5);
  CHECK(ThreadsPerWorker(2, 4, std::nullopt) == 1);  // never 0
  CHECK(ThreadsPerWorker(16, 0, std::nullopt) == 16);
  // --cpus-per-task: each task's own, whatever the others on its node take.
  CHECK(ThreadsPerWorker(16, 4, 2) == 2);
  CHECK(ThreadsPerWorker(4, 1, 8) == 4);  // never more than the process may run on
}

TEST_CASE("the usable CPUs are those of the process's affinity mask", "[orchestrator][cluster]") {
  cpu_set_t original;
  REQUIRE(sched_getaffinity(0, sizeof(original), &original) == 0);
  CHECK(UsableCpus() == CPU_COUNT(&original));
  // Pinned to one of them (as taskset or a Slurm task plug-in pins a task): 1.
  int first = 0;
  while (!CPU_ISSET(first, &original)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
  const int pinned = UsableCpus();
  sched_setaffinity(0, sizeof(original), &original);
  CHECK(pinned == 1);
}

TEST_CASE("SLURM_CPUS_PER_TASK counts only as a positive integer", "[orchestrator][cluster]") {
  {
    ScopedVariable cpus("SLURM_CPUS_PER_TASK", "6");
    CHECK(SlurmCpusPerTask() == std::optional<int>(6));
  }
  for (const char* bad : {"", "0", "-2", "two", "3x", "99999999"}) {
    INFO(bad);
    ScopedVariable cpus("SLURM_CPUS_PER_TASK", bad);
    CHECK_FALSE(SlurmCpusPerTask());
  }
  ScopedVariable none("SLURM_CPUS_PER_TASK", nullptr);
  CHECK_FALSE(SlurmCpusPerTask());
}

TEST_CASE("an srun step's task count is read only inside an srun task", "[orchestrator][cluster]") {
  ScopedVariable tasks("SLURM_STEP_NUM_TASKS", "5");
  {
    ScopedVariable procid("SLURM_PROCID", "3");
    CHECK(SrunStepTasks() == 5);
  }
  ScopedVariable procid("SLURM_PROCID", nullptr);
  CHECK(SrunStepTasks() == 0);  // a batch script's own shell, an salloc shell
}

TEST_CASE("the plain srun message says how to launch instead", "[orchestrator][cluster]") {
  const std::string message = PlainSrunMessage(5);
  CHECK_THAT(message, Catch::Contains("5 tasks"));
  CHECK_THAT(message, Catch::Contains("srun --mpi=pmix -n 5"));
  CHECK_THAT(message, Catch::Contains("--mpi=pmi2 fails"));
  CHECK_THAT(message, Catch::Contains("mpirun -np 5"));
  CHECK_THAT(message, Catch::Contains("--workers 4"));
}

TEST_CASE("wildcard listening hosts are recognised", "[orchestrator][cluster]") {
  for (const char* host : {"0.0.0.0", "::", "[::]", ""}) CHECK(IsWildcardHost(host));
  for (const char* host : {"127.0.0.1", "node-3", "10.0.0.7", "::1"})
    CHECK_FALSE(IsWildcardHost(host));
}

TEST_CASE("the host's addresses leave out loopback ones", "[orchestrator][cluster]") {
  for (const std::string& address : HostAddresses()) {
    INFO(address);
    CHECK(address != "127.0.0.1");
    CHECK(address != "::1");
    CHECK_FALSE(address.empty());
  }
}

TEST_CASE("srun's PMI-2 plug-in is told from PMIx and from mpirun", "[orchestrator][cluster]") {
  ScopedVariable pmix("PMIX_RANK", nullptr);
  ScopedVariable ompi("OMPI_COMM_WORLD_SIZE", nullptr);
  ScopedVariable step("SLURM_STEP_ID", "0");
  {
    ScopedVariable pmi("PMI_RANK", "1");
    CHECK(StartedBySrunPmi2());
    ScopedVariable with_pmix("PMIX_RANK", "1");
    CHECK_FALSE(StartedBySrunPmi2());
  }
  ScopedVariable pmi("PMI_RANK", nullptr);
  ScopedVariable pmi_size("PMI_SIZE", nullptr);
  CHECK_FALSE(StartedBySrunPmi2());
}
