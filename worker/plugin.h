// The LibTorch trainer as a loadable module: libensweep_torch.so.
//
// The `ensweep` executable does not link LibTorch, so every command that trains
// nothing (top, show, studies, ensemble, score, datagen, and workers of
// built-in objectives) starts without loading it. A worker whose study trains
// with torch (`trainer: {type: torch}`, the default) loads this module with
// dlopen (apps/torch_plugin.h finds it) and calls the one factory below, which
// wraps MakeTorchTrainer (worker/torch_trainer.h).
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

namespace ensweep {

// Bump kTorchPluginAbiVersion when the factory's contract changes; the sizes
// catch most layout changes of the types that cross the boundary.
constexpr unsigned long kTorchPluginAbiVersion = 2;
constexpr unsigned long kTorchPluginAbi =
    kTorchPluginAbiVersion * 1000003ul + sizeof(StudySpec) * 10007ul +
    sizeof(TrialRequest) * 101ul + sizeof(TrialResult) * 11ul + sizeof(EpochReport);

constexpr const char* kTorchPluginFile = "libensweep_torch.so";
constexpr const char* kTorchPluginAbiSymbol = "ensweep_torch_plugin_abi";
constexpr const char* kTorchPluginFactorySymbol = "ensweep_torch_plugin_make_trainer";

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
}
