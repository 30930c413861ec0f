#include "worker/gang.h"

#include <stdexcept>

namespace ensweep {
namespace {

// Sum over the gang in forward and, for the gradient, in backward: the gradient of the gang's
// total loss with respect to a summed statistic is the sum of every member's.
class AllReduceFunction : public torch::autograd::Function<AllReduceFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               Gang* gang) {
    ctx->saved_data["gang"] = reinterpret_cast<int64_t>(gang);
    torch::Tensor sum = input.detach().clone();
    gang->SumTensors({sum}, "synchronised BatchNorm forward");
    return sum;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* gang = reinterpret_cast<Gang*>(ctx->saved_data["gang"].toInt());
    torch::Tensor sum = grads[0].contiguous().clone();
    gang->SumTensors({sum}, "synchronised BatchNorm backward");
    return {sum, torch::Tensor()};
  }
};

}  // namespace

Gang::Gang(const GangInfo& gang, std::unique_ptr<Communicator> communicator,
           const torch::Device& device)
    : communicator_(std::move(communicator)),
      device_(device),
      key_(gang.key),
      rank_(gang.rank),
      size_(gang.size) {
  if (!communicator_) throw std::invalid_argument("gang " + key_ + ": no communicator");
  if (communicator_->rank() != rank_ || communicator_->size() != size_) {
    throw std::invalid_argument("gang " + key_ + ": the communicator is rank " +
                                std::to_string(communicator_->rank()) + " of " +
                                std::to_string(communicator_->size()) + ", the trial's member is " +
                                std::to_string(rank_) + " of " + std::to_string(size_));
  }
}

template <typename Op>
void Gang::Guard(const char* operation, Op op) {
  try {
    op();
  } catch (const std::exception& e) {
    throw std::runtime_error("data-parallel gang " + key_ + " (" + Describe() + "): " + operation +
                             " failed: " + e.what());
  }
}

// Communicators take contiguous tensors: channels-last ones (convolution weights and their
// gradients with memory_format channels_last) travel as contiguous copies, copied back after.
template <typename Collective>
void OnContiguous(const std::vector<torch::Tensor>& tensors, Collective collective) {
  std::vector<torch::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  bool copied = false;
  for (const torch::Tensor& t : tensors) {
    contiguous.push_back(t.is_contiguous() ? t : t.contiguous());
    copied = copied || !t.is_contiguous();
  }
  collective(contiguous);
  if (!copied) return;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].is_contiguous()) tensors[i].copy_(contiguous[i]);
  }
}

void Gang::SumTensors(const std::vector<torch::Tensor>& tensors, const char* operation) {
  if (!active()) return;
  Guard(operation,
        [&] { OnContiguous(tensors, [&](const auto& c) { communicator_->AllReduceSum(c); }); });
}

void Gang::SumGradients(const std::vector<torch::Tensor>& parameters, torch::Tensor& loss) {
  if (!active()) return;
  std::vector<torch::Tensor> tensors;
  tensors.reserve(parameters.size() + 1);
  for (const torch::Tensor& p : parameters) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    tensors.push_back(p.grad());
  }
  tensors.push_back(loss);
  SumTensors(tensors, "gradient all-reduce");
}

void Gang::BroadcastModel(torch::nn::Module& model, bool buffers_only) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  // Floating-point tensors only: the integer buffers (BatchNorm's batch counts) agree anyway.
  std::vector<torch::Tensor> tensors;
  if (!buffers_only) {
    for (const torch::Tensor& p : model.parameters()) tensors.push_back(p);
  }
  for (const torch::Tensor& b : model.buffers()) {
    if (b.is_floating_point()) tensors.push_back(b);
  }
  if (tensors.empty()) return;
  Guard("weight broadcast from rank 0",
        [&] { OnContiguous(tensors, [&](const auto& c) { communicator_->Broadcast(c, 0); }); });
}

void Gang::SumRows(std::vector<float>& values) {
  if (!active()) return;
  torch::Tensor host =
      torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kFloat32);
  torch::Tensor t = host.to(device_);  // a copy on CUDA, the buffer itself on the CPU
  SumTensors({t}, "prediction gather");
  if (t.data_ptr() != host.data_ptr()) host.copy_(t.cpu());
}

std::shared_ptr<BatchNormSync> Gang::MakeBatchNormSync() {
  auto sync = std::make_shared<BatchNormSync>();
  sync->all_reduce = [this](const torch::Tensor& local) {
    return AllReduceFunction::apply(local, this);
  };
  return sync;
}

std::string Gang::Describe() const {
  return "rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
         (communicator_ ? ", " + communicator_->backend() : "");
}

CommStats Gang::stats() const { return communicator_ ? communicator_->stats() : CommStats{}; }

}  // namespace ensweep
