#include "worker/models.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <utility>

#include "core/error.h"

namespace ensweep {
namespace {

namespace nn = torch::nn;

nn::Conv2d Conv(int in_channels, int out_channels, int kernel, int stride, int padding) {
  return nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, kernel)
                        .stride(stride)
                        .padding(padding)
                        .bias(false));
}

// torchvision adds a 1x1 projection whenever the shortcut changes shape; its
// child names
// ("downsample.0", "downsample.1") are part of the weight file's key names.
nn::Sequential Downsample(int in_channels, int out_channels, int stride) {
  return nn::Sequential(Conv(in_channels, out_channels, 1, stride, 0), BatchNorm2d(out_channels));
}

struct BasicBlockImpl : nn::Module {
  static constexpr int kExpansion = 1;

  BasicBlockImpl(int in_channels, int planes, int stride) {
    conv1 = register_module("conv1", Conv(in_channels, planes, 3, stride, 1));
    bn1 = register_module("bn1", BatchNorm2d(planes));
    conv2 = register_module("conv2", Conv(planes, planes, 3, 1, 1));
    bn2 = register_module("bn2", BatchNorm2d(planes));
    if (stride != 1 || in_channels != planes * kExpansion) {
      downsample = register_module("downsample", Downsample(in_channels, planes, stride));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor shortcut = downsample ? downsample->forward(x) : x;
    // In-place ReLU and residual add, as torchvision does: fewer allocations
    // per step, and autograd-safe (BatchNorm's backward does not need its
    // output).
    torch::Tensor out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out));
    out += shortcut;
    return torch::relu_(out);
  }

  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

struct BottleneckImpl : nn::Module {
  static constexpr int kExpansion = 4;

  BottleneckImpl(int in_channels, int planes, int stride) {
    conv1 = register_module("conv1", Conv(in_channels, planes, 1, 1, 0));
    bn1 = register_module("bn1", BatchNorm2d(planes));
    conv2 = register_module("conv2", Conv(planes, planes, 3, stride, 1));
    bn2 = register_module("bn2", BatchNorm2d(planes));
    conv3 = register_module("conv3", Conv(planes, planes * kExpansion, 1, 1, 0));
    bn3 = register_module("bn3", BatchNorm2d(planes * kExpansion));
    if (stride != 1 || in_channels != planes * kExpansion) {
      downsample =
          register_module("downsample", Downsample(in_channels, planes * kExpansion, stride));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor shortcut = downsample ? downsample->forward(x) : x;
    torch::Tensor out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out)).relu_();
    out = bn3(conv3(out));
    out += shortcut;
    return torch::relu_(out);
  }

  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// One ResNet stage; its blocks are children "0", "1", ... as in torchvision's
// nn.Sequential.
template <typename Block>
nn::Sequential MakeStage(int* in_channels, int planes, int blocks, int stride) {
  nn::Sequential stage;
  for (int i = 0; i < blocks; ++i) {
    stage->push_back(Block(*in_channels, planes, i == 0 ? stride : 1));
    *in_channels = planes * Block::Impl::kExpansion;
  }
  return stage;
}

// torchvision's initialisation: it matters for training from scratch, and
// LibTorch's default (Kaiming-uniform with a = sqrt(5)) differs.
void InitLikeTorchvision(nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const std::shared_ptr<nn::Module>& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(module.get())) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(module.get())) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

const std::map<std::string, ResNetConfig>& ResNetConfigs() {
  static const std::map<std::string, ResNetConfig> configs = {
      {"resnet18", {ResNetBlock::kBasic, {2, 2, 2, 2}}},
      {"resnet34", {ResNetBlock::kBasic, {3, 4, 6, 3}}},
      {"resnet50", {ResNetBlock::kBottleneck, {3, 4, 6, 3}}},
      {"resnet101", {ResNetBlock::kBottleneck, {3, 4, 23, 3}}},
      {"resnet152", {ResNetBlock::kBottleneck, {3, 8, 36, 3}}},
  };
  return configs;
}

}  // namespace

CustomCnnImpl::CustomCnnImpl(int num_classes, bool batch_norm) {
  nn::Sequential blocks;
  int in_channels = 3;
  for (int out_channels : {32, 64, 128, 256}) {
    if (batch_norm) {
      blocks->push_back(Conv(in_channels, out_channels, 3, 1, 1));
      blocks->push_back(BatchNorm2d(out_channels));
    } else {
      blocks->push_back(
          nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 3).stride(1).padding(1)));
    }
    blocks->push_back(nn::ReLU(nn::ReLUOptions(/*inplace=*/true)));
    blocks->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    in_channels = out_channels;
  }
  features = register_module("features", blocks);
  fc = register_module("fc", nn::Linear(in_channels, num_classes));
  InitLikeTorchvision(*this);
}

torch::Tensor CustomCnnImpl::forward(torch::Tensor images) {
  torch::Tensor x = features->forward(images);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(x);
}

ResNetImpl::ResNetImpl(const ResNetConfig& config, int num_classes) {
  conv1 = register_module("conv1", Conv(3, 64, 7, 2, 3));
  bn1 = register_module("bn1", BatchNorm2d(64));
  int in_channels = 64;
  const std::array<int, 4> planes = {64, 128, 256, 512};
  std::array<nn::Sequential, 4> stages = {nullptr, nullptr, nullptr, nullptr};
  for (size_t s = 0; s < stages.size(); ++s) {
    const int stride = s == 0 ? 1 : 2;
    stages[s] =
        config.block == ResNetBlock::kBasic
            ? MakeStage<BasicBlock>(&in_channels, planes[s], config.blocks_per_stage[s], stride)
            : MakeStage<Bottleneck>(&in_channels, planes[s], config.blocks_per_stage[s], stride);
  }
  layer1 = register_module("layer1", stages[0]);
  layer2 = register_module("layer2", stages[1]);
  layer3 = register_module("layer3", stages[2]);
  layer4 = register_module("layer4", stages[3]);
  fc = register_module("fc", nn::Linear(in_channels, num_classes));
  InitLikeTorchvision(*this);
}

torch::Tensor ResNetImpl::forward(torch::Tensor images) {
  torch::Tensor x = bn1(conv1(images)).relu_();
  x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc(x);
}

std::shared_ptr<ClassifierImpl> MakeClassifier(const std::string& backbone, int num_classes) {
  if (backbone == "custom_cnn") return std::make_shared<CustomCnnImpl>(num_classes);
  if (backbone == "efficientnet_b0") return std::make_shared<EfficientNetB0Impl>(num_classes);
  const auto it = ResNetConfigs().find(backbone);
  if (it != ResNetConfigs().end()) return std::make_shared<ResNetImpl>(it->second, num_classes);
  throw std::invalid_argument("unknown backbone '" + backbone +
                              "'; known: custom_cnn, resnet18, resnet34, resnet50, resnet101, "
                              "resnet152, efficientnet_b0");
}

TorchScriptClassifierImpl::TorchScriptClassifierImpl(const std::string& path, int num_classes,
                                                     int width, int height) {
  try {
    backbone = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    throw UserError("backbone torchscript:" + path + ": cannot load it as TorchScript (" +
                    std::string(e.what()).substr(0, 300) + ")");
  }
  for (const auto& item : backbone.named_parameters(/*recurse=*/true)) {
    std::string name = "ts_" + item.name;
    std::replace(name.begin(), name.end(), '.', '_');
    register_parameter(name, item.value,
                       /*requires_grad=*/true);  // the trainer freezes
  }
  for (const auto& item : backbone.named_buffers(/*recurse=*/true)) {
    std::string name = "ts_" + item.name;
    std::replace(name.begin(), name.end(), '.', '_');
    register_buffer(name, item.value);
  }
  int64_t features = 0;
  {
    torch::NoGradGuard no_grad;
    backbone.eval();
    torch::Tensor probe;
    try {
      probe = backbone.forward({torch::zeros({2, 3, height, width})}).toTensor();
    } catch (const std::exception& e) {
      throw UserError("backbone torchscript:" + path + ": forward on a (2, 3, " +
                      std::to_string(height) + ", " + std::to_string(width) + ") batch failed (" +
                      std::string(e.what()).substr(0, 300) + ")");
    }
    if (probe.dim() != 2 && probe.dim() != 4) {
      throw UserError("backbone torchscript:" + path +
                      ": expected (N, F) features or an (N, C, H, "
                      "W) map from forward, got " +
                      std::to_string(probe.dim()) + " dimensions");
    }
    features = probe.size(1);
    backbone.train();
  }
  fc = register_module("fc", nn::Linear(features, num_classes));
}

torch::Tensor TorchScriptClassifierImpl::forward(torch::Tensor images) {
  torch::Tensor x = backbone.forward({images}).toTensor();
  if (x.dim() == 4) x = x.mean({2, 3});
  return fc->forward(x);
}

void TorchScriptClassifierImpl::train(bool on) {
  ClassifierImpl::train(on);
  backbone.train(on);
}

std::string TorchScriptPath(const std::string& backbone) {
  const std::string prefix = "torchscript:";
  return backbone.rfind(prefix, 0) == 0 ? backbone.substr(prefix.size()) : std::string();
}

std::shared_ptr<ClassifierImpl> MakeClassifier(const std::string& backbone, int num_classes,
                                               const std::string& base_dir, int width, int height) {
  std::filesystem::path path = TorchScriptPath(backbone);
  if (path.empty()) return MakeClassifier(backbone, num_classes);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  if (!std::filesystem::is_regular_file(path)) {
    throw UserError("backbone " + backbone + ": no such file " + path.string());
  }
  return std::make_shared<TorchScriptClassifierImpl>(path.string(), num_classes, width, height);
}

}  // namespace ensweep
