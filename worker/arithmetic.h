// How a model computes on its device: autocast to a lower precision or not, channels-last tensors
// or not, from a trial's `precision` and `memory_format` parameters. Shared by training
// (worker/torch_trainer.cc) and inference (worker/inference.cc), so that a trial's predictions are
// made the same way wherever they are made.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/nn.h>
#include <torch/version.h>

#include "worker/trial_params.h"

namespace ensweep {

// How a trial computes: autocast to a lower precision or not, channels-last
// tensors or not, and dynamic loss scaling (fp16 only: its narrow range
// underflows small gradients).
struct Arithmetic {
  bool autocast = false;
  torch::ScalarType dtype = torch::kFloat32;
  bool channels_last = false;
  bool loss_scaling = false;
};

// auto: bf16 autocast and channels-last on CUDA, fp32 and contiguous on the CPU. Throws
// std::invalid_argument for fp16 on the CPU.
Arithmetic ResolveArithmetic(const TrialParams& params, const torch::Device& device);

// Autocast on the trial's device for the lifetime of the scope (forward passes
// and the loss).
class AutocastScope {
 public:
  AutocastScope(const Arithmetic& arithmetic, const torch::Device& device)
      : active_(arithmetic.autocast), type_(device.type()) {
    if (!active_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    was_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, arithmetic.dtype);
    at::autocast::set_autocast_enabled(type_, true);
#else
    if (type_ == torch::kCUDA) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(arithmetic.dtype);
      at::autocast::set_enabled(true);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(arithmetic.dtype);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
#else
    if (type_ == torch::kCUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_;
  torch::DeviceType type_;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kFloat32;
};

// Moves a batch to the device in the trial's memory format.
torch::Tensor ToDevice(const torch::Tensor& batch, const torch::Device& device,
                       const Arithmetic& arithmetic);

// Every 4-d parameter and buffer (convolution weights) to channels-last, in place.
void ToChannelsLast(torch::nn::Module& model);

}  // namespace ensweep
