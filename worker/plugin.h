// The LibTorch trainer as a loadable module: libensweep_torch.so.
//
// The `ensweep` executable does not link LibTorch, so every command that trains
// nothing (top, show, studies, ensemble, score, datagen, and workers of
// built-in objectives) starts without loading it. A worker whose study trains
// with torch (`trainer: {type: torch}`, the default) loads this module with
// dlopen (apps/torch_plugin.h finds it) and calls the one factory below, which
// wraps MakeTorchTrainer (worker/torch_trainer.h). `ensweep predict` and `ensweep export` call the
// two further functions (worker/inference.h).
//
// The module carries its own copy of the core code it uses, with every symbol
// hidden except the two functions below; C++ objects (StudySpec, Trainer) cross
// the boundary, so the module and the executable must come from the same build.
// kTorchPluginAbi changes with the layout of those types and the loader refuses
// a module whose value differs.
#pragma once

#include <cstddef>

#include "core/study.h"
#include "core/trainer.h"
#include "worker/inference.h"

namespace ensweep {

// Bump kTorchPluginAbiVersion when the factory's contract changes; the sizes
// catch most layout changes of the types that cross the boundary.
constexpr unsigned long kTorchPluginAbiVersion = 3;
constexpr unsigned long kTorchPluginAbi =
    kTorchPluginAbiVersion * 1000003ul + sizeof(StudySpec) * 10007ul +
    sizeof(TrialRequest) * 101ul + sizeof(TrialResult) * 11ul + sizeof(EpochReport) +
    sizeof(InferenceJob) * 7ul + sizeof(InferenceMember) * 3ul;

constexpr const char* kTorchPluginFile = "libensweep_torch.so";
constexpr const char* kTorchPluginAbiSymbol = "ensweep_torch_plugin_abi";
constexpr const char* kTorchPluginFactorySymbol = "ensweep_torch_plugin_make_trainer";
constexpr const char* kTorchPluginPredictSymbol = "ensweep_torch_plugin_predict";
constexpr const char* kTorchPluginExportSymbol = "ensweep_torch_plugin_export";

}  // namespace ensweep

extern "C" {

// kTorchPluginAbi as the module was built.
using EnsweepTorchPluginAbiFn = unsigned long (*)();
unsigned long ensweep_torch_plugin_abi();

// MakeTorchTrainer(*study, threads, device_slot) with the module's log lines prefixed by
// `log_name`. Returns a trainer the caller owns (delete it through its virtual
// destructor; never unload the module), or null with the exception's text in
// `error` (NUL-terminated, truncated to `error_size`).
using EnsweepTorchPluginFactoryFn = ensweep::Trainer* (*)(const ensweep::StudySpec* study,
                                                          int threads, int device_slot,
                                                          const char* log_name, char* error,
                                                          std::size_t error_size);
ensweep::Trainer* ensweep_torch_plugin_make_trainer(const ensweep::StudySpec* study, int threads,
                                                    int device_slot, const char* log_name,
                                                    char* error, std::size_t error_size);

// PredictMembers(*job) into *out, or ExportTorchScript(*job, path). Return 0 on success, 2 when the
// exception was a UserError (bad input: the caller exits with status 2), 1 for any other; the
// exception's text is in `error` (NUL-terminated, truncated to `error_size`).
using EnsweepTorchPluginPredictFn = int (*)(const ensweep::InferenceJob* job,
                                            std::vector<ensweep::Matrix>* out, char* error,
                                            std::size_t error_size);
int ensweep_torch_plugin_predict(const ensweep::InferenceJob* job,
                                 std::vector<ensweep::Matrix>* out, char* error,
                                 std::size_t error_size);
using EnsweepTorchPluginExportFn = int (*)(const ensweep::InferenceJob* job, const char* path,
                                           char* error, std::size_t error_size);
int ensweep_torch_plugin_export(const ensweep::InferenceJob* job, const char* path, char* error,
                                std::size_t error_size);
}
