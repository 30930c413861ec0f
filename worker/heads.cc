#include "worker/heads.h"

#include <array>
#include <stdexcept>

#include "core/mask_layout.h"

namespace ensweep {
namespace {

namespace F = torch::nn::functional;

torch::Tensor Balanced(const std::vector<int>& labels, int classes, int (*task)(int)) {
  std::vector<double> counts(static_cast<size_t>(classes), 0.0);
  for (int label : labels) counts[static_cast<size_t>(task(label))] += 1;
  torch::Tensor weights = torch::ones({classes}, torch::kFloat32);
  for (int c = 0; c < classes; ++c) {
    if (counts[static_cast<size_t>(c)] > 0) {
      weights[c] = static_cast<double>(labels.size()) / (classes * counts[static_cast<size_t>(c)]);
    }
  }
  return weights;
}

torch::Tensor CrossEntropy(const torch::Tensor& logits, const torch::Tensor& target,
                           double smoothing, const torch::Tensor& weight) {
  auto options = F::CrossEntropyFuncOptions().label_smoothing(smoothing);
  if (weight.defined()) options = options.weight(weight);
  return F::cross_entropy(logits, target, options);
}

// The sum over the rows of `logits`, divided by the mean reduction's denominator over
// `batch_target`: its row count, or with class weights the sum of its rows' weights.
torch::Tensor CrossEntropyShare(const torch::Tensor& logits, const torch::Tensor& target,
                                double smoothing, const torch::Tensor& weight,
                                const torch::Tensor& batch_target) {
  auto options = F::CrossEntropyFuncOptions().label_smoothing(smoothing).reduction(torch::kSum);
  if (weight.defined()) options = options.weight(weight);
  const torch::Tensor sum = F::cross_entropy(logits, target, options);
  if (!weight.defined()) return sum / static_cast<double>(batch_target.numel());
  return sum / weight.index_select(0, batch_target).sum();
}

// The multitask head's three targets (mask, gender, age band) of 18-class labels.
std::array<torch::Tensor, 3> Tasks(const torch::Tensor& labels) {
  return {torch::div(labels, 6, "floor"), torch::remainder(torch::div(labels, 3, "floor"), 2),
          torch::remainder(labels, 3)};
}

}  // namespace

int HeadOutputs(const std::string& head, const std::string& data_format, int num_classes) {
  if (head == "single") {
    if (num_classes < 2) {
      throw std::invalid_argument("the data has " + std::to_string(num_classes) +
                                  " class; a classifier needs at least 2");
    }
    return num_classes;
  }
  if (head == "multitask") {
    if (data_format != "mask") {
      throw std::invalid_argument(
          "head 'multitask' (mask, gender and age heads) needs data.format mask; this study's "
          "data is " +
          data_format + " with " + std::to_string(num_classes) + " classes: use head: single");
    }
    return 8;
  }
  throw std::invalid_argument("unknown head '" + head + "'; known: single, multitask");
}

ClassWeights MakeClassWeights(const std::string& class_weighting, const std::vector<int>& labels,
                              int num_classes, const torch::Device& device) {
  ClassWeights weights;
  if (class_weighting != "balanced") return weights;
  for (int label : labels) {
    if (label < 0 || label >= num_classes) {
      throw std::invalid_argument("label " + std::to_string(label) + " outside 0.." +
                                  std::to_string(num_classes - 1));
    }
  }
  weights.single = Balanced(labels, num_classes, [](int c) { return c; }).to(device);
  if (num_classes != kNumClasses) return weights;
  weights.mask = Balanced(labels, 3, MaskOf).to(device);
  weights.gender = Balanced(labels, 2, GenderOf).to(device);
  weights.age = Balanced(labels, 3, AgeBandOf).to(device);
  return weights;
}

torch::Tensor HeadLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                       const TrialParams& params, const ClassWeights& weights) {
  if (params.head == "single") {
    return CrossEntropy(logits, labels, params.label_smoothing, weights.single);
  }
  const torch::Tensor mask = torch::div(labels, 6, "floor");
  const torch::Tensor gender = torch::remainder(torch::div(labels, 3, "floor"), 2);
  const torch::Tensor age = torch::remainder(labels, 3);
  return params.mask_loss_weight *
             CrossEntropy(logits.narrow(1, 0, 3), mask, params.label_smoothing, weights.mask) +
         params.gender_loss_weight *
             CrossEntropy(logits.narrow(1, 3, 2), gender, params.label_smoothing, weights.gender) +
         params.age_loss_weight *
             CrossEntropy(logits.narrow(1, 5, 3), age, params.age_label_smoothing, weights.age);
}

torch::Tensor HeadLossShare(const torch::Tensor& logits, const torch::Tensor& labels,
                            const torch::Tensor& batch_labels, const TrialParams& params,
                            const ClassWeights& weights) {
  if (params.head == "single") {
    return CrossEntropyShare(logits, labels, params.label_smoothing, weights.single, batch_labels);
  }
  const auto task = Tasks(labels);
  const auto batch = Tasks(batch_labels);
  return params.mask_loss_weight * CrossEntropyShare(logits.narrow(1, 0, 3), task[0],
                                                     params.label_smoothing, weights.mask,
                                                     batch[0]) +
         params.gender_loss_weight * CrossEntropyShare(logits.narrow(1, 3, 2), task[1],
                                                       params.label_smoothing, weights.gender,
                                                       batch[1]) +
         params.age_loss_weight * CrossEntropyShare(logits.narrow(1, 5, 3), task[2],
                                                    params.age_label_smoothing, weights.age,
                                                    batch[2]);
}

torch::Tensor HeadProbabilities(const torch::Tensor& logits, const std::string& head) {
  if (head == "single") return torch::softmax(logits, 1);
  const int64_t n = logits.size(0);
  const torch::Tensor mask = torch::softmax(logits.narrow(1, 0, 3), 1).view({n, 3, 1, 1});
  const torch::Tensor gender = torch::softmax(logits.narrow(1, 3, 2), 1).view({n, 1, 2, 1});
  const torch::Tensor age = torch::softmax(logits.narrow(1, 5, 3), 1).view({n, 1, 1, 3});
  return (mask * gender * age).reshape({n, kNumClasses});
}

}  // namespace ensweep
