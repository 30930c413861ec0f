// Pretrained backbone weights: files written by tools/export_torchvision_weights.py (torch.save of
// a plain dict name -> tensor, torchvision's state-dict names) loaded by name into a classifier.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <map>
#include <string>

#include "worker/models.h"

namespace ensweep {

// `weights` is a file, or a folder holding <backbone>.pt. Throws UserError if nothing is there.
std::string ResolveWeightFile(const std::string& weights, const std::string& backbone);

// Reads every tensor of a weight file. Throws UserError naming the file if it cannot be read.
std::map<std::string, torch::Tensor> ReadWeightFile(const std::string& path);

// Copies the file's tensors into the model's parameters and buffers by name. With include_head
// false, names under model.head_prefix() are skipped on both sides (the head stays as initialised).
// Any missing, unexpected or mis-shaped tensor throws UserError listing them all.
void LoadWeights(ClassifierImpl& model, const std::string& path, bool include_head);

// requires_grad false for every parameter outside the head.
void FreezeBackbone(ClassifierImpl& model);

}  // namespace ensweep
