// The exported entry points of libensweep_torch.so (worker/plugin.h).
#include "worker/plugin.h"

#include <malloc.h>

#include <cstring>
#include <exception>

#include "core/log.h"
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

}  // namespace

extern "C" {

ENSWEEP_PLUGIN_EXPORT unsigned long ensweep_torch_plugin_abi() { return ensweep::kTorchPluginAbi; }

ENSWEEP_PLUGIN_EXPORT ensweep::Trainer* ensweep_torch_plugin_make_trainer(
    const ensweep::StudySpec* study, int threads, int device_slot, const char* log_name,
    char* error, std::size_t error_size) {
  try {
    if (log_name) ensweep::SetLogName(log_name);
    KeepTrainingMemory();
    return ensweep::MakeTorchTrainer(*study, threads, device_slot).release();
  } catch (const std::exception& e) {
    if (error && error_size > 0) {
      std::strncpy(error, e.what(), error_size - 1);
      error[error_size - 1] = '\0';
    }
  } catch (...) {
    if (error && error_size > 0) {
      std::strncpy(error, "unknown error", error_size - 1);
      error[error_size - 1] = '\0';
    }
  }
  return nullptr;
}

}  // extern "C"
