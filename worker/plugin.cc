// The exported entry points of libensweep_torch.so (worker/plugin.h).
#include "worker/plugin.h"

#include <cstring>
#include <exception>

#include "core/log.h"
#include "worker/torch_trainer.h"

#define ENSWEEP_PLUGIN_EXPORT __attribute__((visibility("default")))

extern "C" {

ENSWEEP_PLUGIN_EXPORT unsigned long ensweep_torch_plugin_abi() { return ensweep::kTorchPluginAbi; }

ENSWEEP_PLUGIN_EXPORT ensweep::Trainer* ensweep_torch_plugin_make_trainer(
    const ensweep::StudySpec* study, int threads, int device_slot, const char* log_name,
    char* error, std::size_t error_size) {
  try {
    if (log_name) ensweep::SetLogName(log_name);
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
