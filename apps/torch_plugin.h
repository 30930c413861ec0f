// Finding and loading the LibTorch trainer module (worker/plugin.h) at run
// time.
//
// The module is looked for, in order:
//   1. $ENSWEEP_TORCH_PLUGIN, the module's path, when set (and then only
//   there);
//   2. next to the executable (where the build puts it:
//   build/apps/libensweep_torch.so);
//   3. <prefix>/lib/ensweep/libensweep_torch.so for an executable in
//   <prefix>/bin (`cmake --install`).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/study.h"
#include "core/trainer.h"
#include "worker/inference.h"

namespace ensweep {

// The module's path. Throws UserError naming every place looked if there is
// none.
std::string FindTorchPlugin();

// Loads the module once per process (it is never unloaded) and makes a torch
// trainer with `threads` LibTorch threads on GPU slot `device_slot`
// (orchestrator/gpu_slots.h); `log_name` prefixes the module's log lines.
// Throws UserError if the module is missing or from another build,
// std::runtime_error if it fails to load or the trainer cannot be made.
std::unique_ptr<Trainer> MakeTorchTrainerFromPlugin(const StudySpec& study, int threads,
                                                    int device_slot, const std::string& log_name);

// PredictMembers(job) and ExportTorchScript(job, path) (worker/inference.h) in the module. Throw
// UserError for bad input (the module's UserError), std::runtime_error for other failures, and
// like MakeTorchTrainerFromPlugin when the module is missing.
std::vector<Matrix> PredictWithTorchPlugin(const InferenceJob& job);
void ExportWithTorchPlugin(const InferenceJob& job, const std::string& path);

}  // namespace ensweep
