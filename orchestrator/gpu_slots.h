// Which GPU a worker trains on, decided without loading CUDA (the executable does not link
// LibTorch): every worker process gets a slot, and the trainer uses CUDA device
// `slot % devices visible to it`, so that the workers on one machine spread over its GPUs.
//
//   - `ensweep run` numbers its local workers 0, 1, ... (`ensweep worker --gpu N`);
//   - under mpirun/srun a worker rank's slot is its local rank on its node (the coordinator,
//     rank 0, holds local rank 0 of the first node and trains nothing);
//   - `ensweep worker` without --gpu uses its launcher's local rank (e.g. SLURM_LOCALID in a
//     Slurm array job), else 0.
#pragma once

#include <optional>

namespace ensweep {

// This process's index among its job's processes on this machine, from the launcher's
// environment: OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), MPI_LOCALRANKID (MPICH, Intel MPI),
// SLURM_LOCALID (srun), in that order; nothing when none is set to a non-negative integer.
std::optional<int> LocalRankFromEnvironment();

// How many GPUs a CUDA program started now would see, without loading CUDA:
// CUDA_VISIBLE_DEVICES when set (its entries up to the first invalid one, as CUDA reads it; an
// empty value or -1 hides every GPU), else the NVIDIA driver's device list
// (/proc/driver/nvidia/gpus). 0 on a machine without the NVIDIA driver.
int VisibleGpuCount();

}  // namespace ensweep
