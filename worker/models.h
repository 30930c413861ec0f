// Image classifiers (backbone + head) built with LibTorch modules.
//
// ResNets reproduce torchvision's module tree exactly (conv1, bn1,
// layer1.0.conv1, ..., layer2.0.downsample.0, fc), so every parameter and
// buffer has torchvision's name and shape and weights exported from torchvision
// load by name. Blocks and stage depths are data (ResNetConfig), so a new depth
// is one table entry; a new family (efficientnet_b0) is one more Impl
// registered in MakeClassifier.
//
// Worker-internal: this header includes LibTorch; only worker/*.cc and worker
// tests include it. LibTorch (built with glog) defines a CHECK macro that
// collides with Catch's: a test includes this header before catch.hpp and
// #undef CHECK in between.
#pragma once

#include <torch/nn.h>
#include <torch/script.h>

#include <array>
#include <memory>
#include <string>

#include "worker/batch_norm.h"

namespace ensweep {

// What every classifier offers the trainer: normalised images (N, 3, H, W)
// float -> logits (N, num_classes). Any H, W >= 32 works (global average
// pooling before the head).
struct ClassifierImpl : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  // Name prefix of the classifier head's parameters ("fc." for every model
  // here): pretrained weights never load into it, and freeze_backbone trains
  // only it.
  virtual std::string head_prefix() const { return "fc."; }
};

// A small network trained from scratch: four conv3x3-BN-ReLU-maxpool blocks
// (32, 64, 128, 256 channels), global average pooling, a linear head. Without
// batch_norm (trial parameter norm: none) the blocks are conv3x3 (with bias)-ReLU-maxpool.
struct CustomCnnImpl : ClassifierImpl {
  explicit CustomCnnImpl(int num_classes, bool batch_norm = true);
  torch::Tensor forward(torch::Tensor images) override;

  torch::nn::Sequential features{nullptr};
  torch::nn::Linear fc{nullptr};
};

// torchvision's BasicBlock (resnet18/34) and Bottleneck (resnet50/101/152,
// stride on the 3x3 conv as in torchvision's "ResNet v1.5").
enum class ResNetBlock { kBasic, kBottleneck };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::kBasic;
  std::array<int, 4> blocks_per_stage = {2, 2, 2, 2};
};

struct ResNetImpl : ClassifierImpl {
  ResNetImpl(const ResNetConfig& config, int num_classes);
  torch::Tensor forward(torch::Tensor images) override;

  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};
};

// torchvision's efficientnet_b0 (weights=None): features.0 (stem) ...
// features.8 (1x1 to 1280), classifier.1 (the head, after dropout 0.2);
// worker/efficientnet.cc.
struct EfficientNetB0Impl : ClassifierImpl {
  explicit EfficientNetB0Impl(int num_classes);
  torch::Tensor forward(torch::Tensor images) override;
  std::string head_prefix() const override { return "classifier."; }

  torch::nn::ModuleList features{nullptr};
  torch::nn::Sequential classifier{nullptr};
};

// Any backbone exported to TorchScript (torch.jit.script or torch.jit.trace),
// used as a feature extractor: its forward(images) returns (N, F) features or
// an (N, C, H, W) map, which is averaged over H and W; a freshly initialised
// linear head (`fc`, torch.nn.Linear's initialisation) maps the F features to
// the classes. F is found by one forward pass on a zero batch of the study's
// input size at construction. The backbone starts from the weights saved in the
// file and is fine-tuned (or frozen) like any other; its parameters and buffers
// are registered under "ts_<name with '.' as '_'>" so optimisers, SWA, freezing
// and checkpoints see them.
struct TorchScriptClassifierImpl : ClassifierImpl {
  TorchScriptClassifierImpl(const std::string& path, int num_classes, int width, int height);
  torch::Tensor forward(torch::Tensor images) override;
  void train(bool on = true) override;

  torch::jit::Module backbone;
  torch::nn::Linear fc{nullptr};
};

// "torchscript:<path>" names a TorchScript backbone; returns the path, or ""
// for any other name.
std::string TorchScriptPath(const std::string& backbone);

// The BatchNorm layers are worker/batch_norm.h's (synchronisable in a gang).
// Builds a freshly initialised classifier by backbone name (custom_cnn,
// resnet18, resnet34, resnet50, resnet101, resnet152, efficientnet_b0; the list
// in trial_params.h). Initialisation follows torchvision (Kaiming-normal
// convolutions, BN weight 1 and bias 0) and draws from torch's global
// generator, so seed it first (torch::manual_seed). Throws
// std::invalid_argument for an unknown name.
std::shared_ptr<ClassifierImpl> MakeClassifier(const std::string& backbone, int num_classes);

// As above, and "torchscript:<path>" with the path resolved against `base_dir`
// when relative and the backbone probed at width x height. Throws UserError for
// a file that does not load.
std::shared_ptr<ClassifierImpl> MakeClassifier(const std::string& backbone, int num_classes,
                                               const std::string& base_dir, int width, int height);

}  // namespace ensweep
