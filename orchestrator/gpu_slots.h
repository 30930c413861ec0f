// Which GPU a worker trains on, decided without loading CUDA (the executable does not link
// LibTorch): every worker process gets a slot, and the trainer uses CUDA device
// `slot % devices visible to it`, so that the workers on one machine spread over its GPUs.
//
//   - `ensweep run` numbers its local workers 0, 1, ... (`ensweep worker --gpu N`);
//   - under mpirun/srun a worker rank's slot is its local rank on its node (the coordinator,
//     rank 0, holds local rank 0 of the first node and trains nothing);
//   - `ensweep worker` without --gpu uses its launcher's local rank (e.g. SLURM_LOCALID when
//     `srun --ntasks-per-node=N` starts several workers on each node), else 0.
#pragma once

#include <optional>
#include <string>

namespace ensweep {

// This process's index among its job's processes on this machine, from the launcher's
// environment: OMPI_COMM_WORLD_LOCAL_RANK (Open MPI), MPI_LOCALRANKID (MPICH, Intel MPI),
// SLURM_LOCALID (srun), in that order; nothing when none is set to a non-negative integer.
std::optional<int> LocalRankFromEnvironment();

// How many GPUs a CUDA program started now would see, without loading CUDA:
// CUDA_VISIBLE_DEVICES when set, read as CUDA reads it (CountVisibleDevices), else the NVIDIA
// driver's device list (/proc/driver/nvidia/gpus). 0 on a machine without the NVIDIA driver.
int VisibleGpuCount();

// The number of devices a CUDA_VISIBLE_DEVICES `value` makes visible on a machine whose driver
// lists `driver_gpus` GPUs (0: unknown): entries are trimmed; the first entry decides whether the
// list holds indices or GPU-/MIG- UUIDs; the list ends at the first entry of the other kind, at
// an index the driver does not have, or at anything else (so "" and "-1" hide every GPU); a
// repeated device hides them all; the result is at most `driver_gpus` when that is known.
int CountVisibleDevices(const std::string& value, int driver_gpus);

// The NVIDIA driver's GPUs (entries of /proc/driver/nvidia/gpus); 0 without the driver.
int DriverGpuCount();

}  // namespace ensweep
