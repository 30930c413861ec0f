#include "worker/batch_norm.h"

namespace ensweep {

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNormOptions& options) : options(options) {
  reset();
}

// As torch's NormImplBase::reset.
void BatchNorm2dImpl::reset() {
  const int64_t channels = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({channels}));
    running_var = register_buffer("running_var", torch::ones({channels}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
}

void BatchNorm2dImpl::reset_running_stats() {
  if (!options.track_running_stats()) return;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", affine=" << options.affine() << ", sync=" << (sync && sync->enabled) << ")";
}

// As torch's BatchNormImplBase::forward unless synchronised.
torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == 4, "BatchNorm2d expects (N, C, H, W) input, got ", input.dim(), "-d");
  if (sync && sync->enabled && is_training()) return SyncedForward(input);
  double factor = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats()) {
    num_batches_tracked += 1;
    if (!options.momentum().has_value()) factor = 1.0 / num_batches_tracked.item<double>();
  }
  return torch::nn::functional::detail::batch_norm(input, running_mean, running_var, weight, bias,
                                                   is_training() || !options.track_running_stats(),
                                                   factor, options.eps());
}

torch::Tensor BatchNorm2dImpl::SyncedForward(const torch::Tensor& input) {
  const int64_t channels = input.size(1);
  const torch::Tensor x = input.to(torch::kFloat32);
  const torch::Tensor count =
      torch::full({1}, static_cast<double>(x.numel() / std::max<int64_t>(channels, 1)),
                  x.options().requires_grad(false));
  const torch::Tensor local = torch::cat({x.sum({0, 2, 3}), x.square().sum({0, 2, 3}), count});
  const torch::Tensor global = sync->all_reduce(local);
  const torch::Tensor n = global.narrow(0, 2 * channels, 1).detach();
  const double total = n.item<double>();
  TORCH_CHECK(total > 1, "synchronised BatchNorm needs more than one value per channel over the ",
              "gang, got ", total);
  const torch::Tensor mean = global.narrow(0, 0, channels) / n;
  const torch::Tensor var = (global.narrow(0, channels, channels) / n - mean.square()).clamp_min(0);
  const torch::Tensor invstd = (var + options.eps()).rsqrt();
  torch::Tensor scale = invstd, shift = -mean * invstd;
  if (options.affine()) {
    scale = scale * weight;
    shift = shift * weight + bias;
  }
  const torch::Tensor y = x * scale.view({1, channels, 1, 1}) + shift.view({1, channels, 1, 1});
  if (options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    const double factor = options.momentum().has_value()
                              ? *options.momentum()
                              : 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
    running_mean.mul_(1 - factor).add_(mean.detach().to(running_mean.dtype()), factor);
    running_var.mul_(1 - factor)
        .add_((var.detach() * (total / (total - 1))).to(running_var.dtype()), factor);
  }
  return y.to(input.scalar_type());
}

int AttachBatchNormSync(torch::nn::Module& model, const std::shared_ptr<BatchNormSync>& sync) {
  int layers = 0;
  for (const std::shared_ptr<torch::nn::Module>& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(module.get())) {
      bn->sync = sync;
      ++layers;
    }
  }
  return layers;
}

}  // namespace ensweep
