#include "worker/swa.h"

#include <memory>
#include <stdexcept>
#include <utility>

#include "worker/batch_norm.h"

namespace ensweep {

void SwaAverager::Add(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = model.parameters();
  if (count_ == 0) {
    mean_.clear();
    for (const torch::Tensor& p : params) mean_.push_back(p.detach().clone());
  } else {
    if (params.size() != mean_.size()) throw std::logic_error("SWA snapshot of a different model");
    for (size_t i = 0; i < params.size(); ++i) {
      mean_[i].add_((params[i].detach() - mean_[i]) / static_cast<double>(count_ + 1));
    }
  }
  ++count_;
}

void SwaAverager::CopyTo(torch::nn::Module& model) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = model.parameters();
  if (params.size() != mean_.size()) throw std::logic_error("SWA average of a different model");
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(mean_[i]);
}

int RecomputeBatchNorm(torch::nn::Module& model, const std::function<torch::Tensor()>& next_batch,
                       const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
  // torch's BatchNorm2d and worker/batch_norm.h's: each layer's options, to restore.
  std::vector<std::pair<torch::nn::BatchNormOptions*, c10::optional<double>>> layers;
  const auto reset = [&layers](auto* bn) {
    layers.emplace_back(&bn->options, bn->options.momentum());
    bn->reset_running_stats();
    bn->options.momentum(c10::nullopt);  // cumulative average over the pass
  };
  for (const std::shared_ptr<torch::nn::Module>& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get())) reset(bn);
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(module.get())) reset(bn);
  }
  const bool was_training = model.is_training();
  model.train();
  int batches = 0;
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor batch = next_batch(); batch.defined(); batch = next_batch()) {
      forward(batch);
      ++batches;
    }
  }
  for (auto& [options, momentum] : layers) options->momentum(momentum);
  model.train(was_training);
  return batches;
}

}  // namespace ensweep
