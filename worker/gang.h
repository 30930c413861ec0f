// The trainer's side of a data-parallel gang (core/trainer.h GangInfo): one trial trained by
// `size` workers, each holding the same model.
//
//   - Sharding: every global batch (and every list of images to predict) is split into `size`
//     contiguous slices, as even as possible (slice r is [n * r / size, n * (r + 1) / size)).
//   - Gradients: after backward each member's gradients (its rows' share of the global batch's
//     mean loss) and its loss are summed over the gang in one AllReduceSum, so every member
//     steps with the gradient of the whole batch and sees the whole batch's loss.
//   - Weights: Broadcast from rank 0 after the model is built (parameters and buffers) and of the
//     buffers after every epoch, so every member evaluates the same model.
//   - Predictions: each member predicts its slice into a zero-filled matrix of all rows, and an
//     AllReduceSum gives every member the full matrix (adding zeros is exact).
//   - BatchNorm: a BatchNormSync (worker/batch_norm.h) whose all-reduce is differentiable.
// Tensors that are not contiguous (channels-last) travel as contiguous copies. Every member must
// make the same calls in the same order. A failing communicator call throws
// std::runtime_error naming the gang, the member and the operation.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <torch/nn.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/trainer.h"
#include "worker/batch_norm.h"
#include "worker/communicator.h"

namespace ensweep {

class Gang {
 public:
  // A gang of one: every operation is a no-op.
  Gang() = default;
  // Takes the communicator of member gang.rank (its rank and size must match `gang`); the
  // model's tensors are on `device`, the communicator's.
  Gang(const GangInfo& gang, std::unique_ptr<Communicator> communicator,
       const torch::Device& device = torch::kCPU);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool active() const { return communicator_ != nullptr; }

  // This member's slice [first, second) of n items.
  std::pair<int64_t, int64_t> Shard(int64_t n) const {
    return {n * rank_ / size_, n * (rank_ + 1) / size_};
  }

  // Sums the trainable parameters' gradients (zeros for one without a gradient) and `loss` (a
  // 1-element float tensor) over the gang, in place.
  void SumGradients(const std::vector<torch::Tensor>& parameters, torch::Tensor& loss);
  // Rank 0's parameters and buffers (or buffers only) into every member's model.
  void BroadcastModel(torch::nn::Module& model, bool buffers_only);
  // Sums `values` (row-major floats, zero outside this member's rows) over the gang, in place.
  void SumRows(std::vector<float>& values);
  // AllReduceSum of `tensors` in place; a failure names `operation`.
  void SumTensors(const std::vector<torch::Tensor>& tensors, const char* operation);
  // A BatchNormSync over this gang (disabled until enabled).
  std::shared_ptr<BatchNormSync> MakeBatchNormSync();

  std::string Describe() const;  // "rank 1 of 2, local"
  CommStats stats() const;

 private:
  template <typename Op>
  void Guard(const char* operation, Op op);

  std::unique_ptr<Communicator> communicator_;
  torch::Device device_ = torch::kCPU;
  std::string key_;
  int rank_ = 0, size_ = 1;
};

}  // namespace ensweep
