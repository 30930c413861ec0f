#include "worker/arithmetic.h"

#include <stdexcept>
#include <string>

namespace ensweep {

Arithmetic ResolveArithmetic(const TrialParams& params, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  Arithmetic a;
  const std::string precision =
      params.precision == "auto" ? (cuda ? "bf16" : "fp32") : params.precision;
  if (precision == "fp16" && !cuda) {
    throw std::invalid_argument(
        "trial parameter 'precision' = fp16 needs a "
        "CUDA device (this worker runs on the CPU); "
        "use bf16 or fp32");
  }
  a.autocast = precision != "fp32";
  a.dtype =
      precision == "fp16" ? torch::kFloat16 : (a.autocast ? torch::kBFloat16 : torch::kFloat32);
  a.loss_scaling = precision == "fp16";
  a.channels_last = params.memory_format == "auto" ? cuda : params.memory_format == "channels_last";
  return a;
}

torch::Tensor ToDevice(const torch::Tensor& batch, const torch::Device& device,
                       const Arithmetic& arithmetic) {
  torch::Tensor moved = batch.to(device, /*non_blocking=*/true);
  return arithmetic.channels_last ? moved.contiguous(torch::MemoryFormat::ChannelsLast) : moved;
}

void ToChannelsLast(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : model.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  for (torch::Tensor& b : model.buffers()) {
    if (b.dim() == 4) b.set_data(b.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

}  // namespace ensweep
