// Classifier heads and their losses: `single` (one logit per class of the data, one softmax) or,
// for the mask format only, `multitask` (8 logits: mask 3, gender 2, age band 3; three softmaxes
// whose product is the 18-class probability, class EncodeClass(mask, gender, age) =
// mask * 6 + gender * 3 + age).
//
// Worker-internal (includes LibTorch).
#pragma once

#include <torch/nn.h>

#include <string>
#include <vector>

#include "worker/trial_params.h"

namespace ensweep {

// Logits the backbone must produce for a head on data of `data_format` with `num_classes` classes:
// num_classes (single) or 8 (multitask). Throws std::invalid_argument for an unknown head, and for
// multitask on any format but mask (its tasks are the competition's mask, gender and age).
int HeadOutputs(const std::string& head, const std::string& data_format, int num_classes);

// Per-class loss weights, or undefined tensors for unweighted losses.
struct ClassWeights {
  torch::Tensor single;             // (num_classes)
  torch::Tensor mask, gender, age;  // (3), (2), (3)
};

// class_weighting "balanced": n / (k * count_c) per class from the training labels (0 ..
// num_classes - 1), and, when num_classes is the mask format's 18, per class of each multitask task
// (mask, gender, age stay undefined otherwise); a class without images gets weight 1. "none": all
// undefined.
ClassWeights MakeClassWeights(const std::string& class_weighting, const std::vector<int>& labels,
                              int num_classes, const torch::Device& device);

// Mean training loss over the batch. single: cross-entropy with label_smoothing. multitask:
// mask_loss_weight * CE(mask; label_smoothing) + gender_loss_weight * CE(gender; label_smoothing) +
// age_loss_weight * CE(age; age_label_smoothing). `labels` are class indices (int64; 18-class for
// multitask).
torch::Tensor HeadLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                       const TrialParams& params, const ClassWeights& weights);

// One shard's share of HeadLoss over a whole batch: each term's loss summed over this shard's rows
// (`logits`, `labels`) and divided by that term's mean-reduction denominator over the whole
// batch's labels `batch_labels` (its size, or with class weights the sum of its labels' weights),
// so the shares of a batch's disjoint shards add up to its HeadLoss (up to float rounding).
torch::Tensor HeadLossShare(const torch::Tensor& logits, const torch::Tensor& labels,
                            const torch::Tensor& batch_labels, const TrialParams& params,
                            const ClassWeights& weights);

// (N, C) probabilities, C the number of single-head logits (18 for multitask); rows sum to 1.
torch::Tensor HeadProbabilities(const torch::Tensor& logits, const std::string& head);

}  // namespace ensweep
