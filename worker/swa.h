// Stochastic weight averaging (Izmailov et al. 2018, torch.optim.swa_utils): an equal-weight
// running mean of a model's parameters over snapshots, then BatchNorm statistics recomputed for the
// averaged weights.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <torch/nn.h>

#include <functional>
#include <utility>
#include <vector>

namespace ensweep {

class SwaAverager {
 public:
  // Adds the model's current parameters: mean <- mean + (p - mean) / (count + 1).
  void Add(torch::nn::Module& model);
  int count() const { return count_; }
  // Writes the mean into the model's parameters (same module tree as the snapshots). Buffers
  // (BatchNorm statistics) are untouched: call RecomputeBatchNorm next.
  void CopyTo(torch::nn::Module& model) const;
  // The running mean (one tensor per parameter, on the model's device) and its count, to save a
  // trial's state; Restore puts them back (a resumed trial averages on as if never stopped).
  const std::vector<torch::Tensor>& mean() const { return mean_; }
  void Restore(std::vector<torch::Tensor> mean, int count) {
    mean_ = std::move(mean);
    count_ = count;
  }

 private:
  std::vector<torch::Tensor> mean_;
  int count_ = 0;
};

// Resets every BatchNorm2d's (torch's or worker/batch_norm.h's) running mean and variance and
// recomputes them as the plain average over all batches from next_batch (an undefined tensor ends
// the pass), as swa_utils.update_bn: training mode, momentum None, no gradients. Restores each
// layer's momentum and the model's mode. Returns the number of batches seen; with none, the
// statistics are left reset.
int RecomputeBatchNorm(torch::nn::Module& model, const std::function<torch::Tensor()>& next_batch,
                       const std::function<torch::Tensor(const torch::Tensor&)>& forward);

}  // namespace ensweep
