#include "worker/swa.h"

#include <memory>
#include <stdexcept>
#include <utility>

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
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> layers;
  for (const std::shared_ptr<torch::nn::Module>& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get())) {
      layers.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // cumulative average over the pass
    }
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
  for (auto& [bn, momentum] : layers) bn->options.momentum(momentum);
  model.train(was_training);
  return batches;
}

}  // namespace ensweep
