#include "orchestrator/cluster_env.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/text.h"

namespace ensweep {
namespace {

std::optional<int> PositiveFromEnvironment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string text(value);
  if (text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int number = std::stoi(text);
  return number > 0 ? std::optional(number) : std::nullopt;
}

}  // namespace

int UsableCpus() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) return std::max(1, CPU_COUNT(&mask));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::optional<int> SlurmCpusPerTask() { return PositiveFromEnvironment("SLURM_CPUS_PER_TASK"); }

int ThreadsPerWorker(int usable_cpus, int workers_sharing, std::optional<int> cpus_per_task) {
  const int usable = std::max(1, usable_cpus);
  if (cpus_per_task) return std::clamp(*cpus_per_task, 1, usable);
  return std::max(1, usable / std::max(1, workers_sharing));
}

int SrunStepTasks() {
  if (std::getenv("SLURM_PROCID") == nullptr) return 0;
  return PositiveFromEnvironment("SLURM_STEP_NUM_TASKS").value_or(0);
}

std::string PlainSrunMessage(int tasks) {
  return "srun started " + CountOf(tasks, "task") +
         " of `ensweep run` without an MPI plug-in (srun --mpi=none, the default where slurm.conf "
         "has MpiDefault=none), so each task would run the study on its own. Run it as `srun "
         "--mpi=pmix -n " +
         std::to_string(tasks) +
         " ensweep run ...` (rank 0 coordinates, the others are workers; Debian's Open MPI is "
         "built with PMIx only, so --mpi=pmi2 fails), as `mpirun -np " +
         std::to_string(tasks) +
         " ensweep run ...` inside the allocation, or as one task with local workers: `srun -n 1 "
         "ensweep run ... --workers " +
         std::to_string(std::max(1, tasks - 1)) + "`";
}

bool StartedBySrunPmi2() {
  const auto set = [](const char* name) { return std::getenv(name) != nullptr; };
  return (set("PMI_RANK") || set("PMI_SIZE")) && set("SLURM_STEP_ID") && !set("PMIX_RANK") &&
         !set("OMPI_COMM_WORLD_SIZE");
}

bool IsWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

std::vector<std::string> HostAddresses() {
  std::vector<std::string> addresses;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || !(entry->ifa_flags & IFF_UP) ||
        (entry->ifa_flags & IFF_LOOPBACK)) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {0};
    const int family = entry->ifa_addr->sa_family;
    if (family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    } else if (family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.emplace_back(text);
    }
  }
  freeifaddrs(list);
  return addresses;
}

}  // namespace ensweep
