// The exported entry points of libensweep_torch.so (worker/plugin.h).
#include "worker/plugin.h"

#include <malloc.h>

#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/log.h"
#include "worker/inference.h"
#include "worker/torch_trainer.h"

#define ENSWEEP_PLUGIN_EXPORT __attribute__((visibility("default")))

namespace {

// A training step allocates and frees the same large activation and gradient buffers every
// step. With glibc's defaults, buffers above the (adaptive) mmap threshold are mapped and
// unmapped each time and the heap's top is trimmed back to the system after each step, so every
// step page-faults its working set in again; on the process's main thread, where a worker
// trains, a step of the custom CNN took 5 times as long (bench/trainer/README.md, "Memory
// allocator"). A worker process trains one trial after another with the same shapes, so it keeps
// what it allocated: buffers up to 32 MiB (glibc's largest mmap threshold) come from the heap,
// the heap grows in 512 MiB steps of address space and is never trimmed. Its resident memory
// then stays at its largest trial's peak, as with PyTorch's caching allocators.
void KeepTrainingMemory() {
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 512 << 20);
    return true;
  }();
  (void)once;
}

void CopyError(const char* what, char* error, std::size_t error_size) {
  if (error && error_size > 0) {
    std::strncpy(error, what, error_size - 1);
    error[error_size - 1] = '\0';
  }
}

// Runs `action`: 0, or 2 for a UserError and 1 for anything else with the text in `error`.
template <typename Action>
int Guarded(Action action, char* error, std::size_t error_size) {
  try {
    action();
    return 0;
  } catch (const ensweep::UserError& e) {
    CopyError(e.what(), error, error_size);
    return 2;
  } catch (const std::exception& e) {
    CopyError(e.what(), error, error_size);
  } catch (...) {
    CopyError("unknown error", error, error_size);
  }
  return 1;
}

}  // namespace

extern "C" {

ENSWEEP_PLUGIN_EXPORT unsigned long ensweep_torch_plugin_abi() { return ensweep::kTorchPluginAbi; }

ENSWEEP_PLUGIN_EXPORT ensweep::Trainer* ensweep_torch_plugin_make_trainer(
    const ensweep::StudySpec* study, int threads, int device_slot, const char* log_name,
    char* error, std::size_t error_size) {
  ensweep::Trainer* trainer = nullptr;
  Guarded(
      [&] {
        if (log_name) ensweep::SetLogName(log_name);
        KeepTrainingMemory();
        trainer = ensweep::MakeTorchTrainer(*study, threads, device_slot).release();
      },
      error, error_size);
  return trainer;
}

ENSWEEP_PLUGIN_EXPORT int ensweep_torch_plugin_predict(const ensweep::InferenceJob* job,
                                                       std::vector<ensweep::Matrix>* out,
                                                       char* error, std::size_t error_size) {
  return Guarded([&] { *out = ensweep::PredictMembers(*job); }, error, error_size);
}

ENSWEEP_PLUGIN_EXPORT int ensweep_torch_plugin_export(const ensweep::InferenceJob* job,
                                                      const char* path, char* error,
                                                      std::size_t error_size) {
  return Guarded([&] { ensweep::ExportTorchScript(*job, path); }, error, error_size);
}

}  // extern "C"
