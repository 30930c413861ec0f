// What the machine and the batch scheduler tell a process about where it runs: the CPUs it may
// use, how many threads each worker gets, the names other machines reach this one by, and srun
// launches that are not MPI launches. Reads the environment and the kernel only.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ensweep {

// CPUs this process may run on: the CPUs in its affinity mask (what taskset, Slurm's task
// plug-ins, cgroup cpusets or mpirun's binding leave it), at least 1; the machine's hardware
// threads when the mask cannot be read.
int UsableCpus();

// SLURM_CPUS_PER_TASK (srun/sbatch --cpus-per-task) when it holds a positive integer.
std::optional<int> SlurmCpusPerTask();

// Threads for each of `workers_sharing` workers that share `usable_cpus` CPUs: `cpus_per_task`
// when the scheduler gave every task its own CPUs (at most usable_cpus), else usable_cpus
// divided among the workers; at least 1.
int ThreadsPerWorker(int usable_cpus, int workers_sharing, std::optional<int> cpus_per_task);

// The tasks of the srun step that started this process when no MPI launcher's variables are set
// (srun without a PMI plug-in, the default where MpiDefault=none): SLURM_STEP_NUM_TASKS when
// SLURM_PROCID is set too, else 0. The caller decides what is an MPI launch (LaunchedByMpi).
int SrunStepTasks();

// The message for `ensweep run` started as `tasks` tasks of a plain srun (exit status 2).
std::string PlainSrunMessage(int tasks);

// True when srun started this process with its PMI-2 plug-in (srun --mpi=pmi2: PMI_RANK or
// PMI_SIZE set, no PMIx or Open MPI launcher variables), which Open MPI builds with PMIx only
// (Debian's) cannot initialise under.
bool StartedBySrunPmi2();

// True for a listening host that means "every interface" ("0.0.0.0", "::", "[::]", "").
bool IsWildcardHost(const std::string& host);

// This machine's addresses other machines may reach it by: every IPv4 and IPv6 address of an
// interface that is up, loopback and link-local ones left out, in the kernel's order.
std::vector<std::string> HostAddresses();

}  // namespace ensweep
