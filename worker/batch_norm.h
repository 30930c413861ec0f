// BatchNorm2d that a data-parallel gang can synchronise.
//
// Every model in worker/models.h builds its BatchNorm layers from BatchNorm2d below: torch's
// BatchNorm2d again (same options, same parameters and buffers in the same order: weight, bias,
// running_mean, running_var, num_batches_tracked; torch's forward), so weight files, checkpoints
// and SWA see an ordinary BatchNorm. It is its own module rather than a subclass of
// torch::nn::BatchNorm2dImpl because this LibTorch build does not export that template's
// pretty_print, which a subclass's vtables need. Without a BatchNormSync attached, or with it
// disabled, or in evaluation mode, forward is torch's.
//
// With an enabled BatchNormSync in training mode, forward normalises with the statistics of the
// whole global batch: it sums each channel's values, squared values and count over its own rows,
// all-reduces those sums with `all_reduce` (one call per layer per forward, in layer order on every
// member), and normalises with the global mean and biased variance; the running statistics move
// towards the global mean and unbiased variance exactly as torch's do (momentum, or the cumulative
// average when momentum is unset). `all_reduce` must be differentiable (its backward the same
// sum of the incoming gradients over the members), so the gradient that reaches each member's
// rows includes the other members' losses through the shared statistics. Sums are float32.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <torch/nn.h>

#include <functional>
#include <memory>

namespace ensweep {

struct BatchNormSync {
  // Sums a 1-d float tensor over the gang's members (differentiably); every member gets the sum.
  std::function<torch::Tensor(const torch::Tensor&)> all_reduce;
  bool enabled = false;
};

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(int64_t channels)
      : BatchNorm2dImpl(torch::nn::BatchNormOptions(channels)) {}
  explicit BatchNorm2dImpl(const torch::nn::BatchNormOptions& options);
  void reset() override;
  // Running mean 0, variance 1, no batches seen.
  void reset_running_stats();
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias;                                    // with options.affine()
  torch::Tensor running_mean, running_var, num_batches_tracked;  // with track_running_stats()
  // Shared by every layer of a model (AttachBatchNormSync); null: torch's BatchNorm.
  std::shared_ptr<BatchNormSync> sync;

 private:
  torch::Tensor SyncedForward(const torch::Tensor& input);
};
TORCH_MODULE(BatchNorm2d);

// Attaches `sync` (null detaches) to every BatchNorm2d of the model; returns how many there are.
int AttachBatchNormSync(torch::nn::Module& model, const std::shared_ptr<BatchNormSync>& sync);

}  // namespace ensweep
