// Classifier heads and their losses: `single` (18 logits, one softmax) or `multitask` (8 logits:
// mask 3, gender 2, age band 3; three softmaxes whose product is the 18-class probability, class
// EncodeClass(mask, gender, age) = mask * 6 + gender * 3 + age).
//
// Worker-internal (includes LibTorch).
#pragma once

#include <torch/nn.h>

#include <string>
#include <vector>

#include "worker/trial_params.h"

namespace ensweep {

// Logits the backbone must produce for a head: 18 (single) or 8 (multitask).
int HeadOutputs(const std::string& head);

// Per-class loss weights, or undefined tensors for unweighted losses.
struct ClassWeights {
  torch::Tensor single;             // (18)
  torch::Tensor mask, gender, age;  // (3), (2), (3)
};

// class_weighting "balanced": n / (k * count_c) per class of each task from the training labels
// (18-class labels); a class without images gets weight 1. "none": all undefined.
ClassWeights MakeClassWeights(const std::string& class_weighting, const std::vector<int>& labels,
                              const torch::Device& device);

// Mean training loss over the batch. single: cross-entropy with label_smoothing. multitask:
// mask_loss_weight * CE(mask; label_smoothing) + gender_loss_weight * CE(gender; label_smoothing) +
// age_loss_weight * CE(age; age_label_smoothing). `labels` are 18-class (int64).
torch::Tensor HeadLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                       const TrialParams& params, const ClassWeights& weights);

// (N, 18) probabilities; each row sums to 1.
torch::Tensor HeadProbabilities(const torch::Tensor& logits, const std::string& head);

}  // namespace ensweep
