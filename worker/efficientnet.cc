// EfficientNet-B0 with torchvision's module tree (features.0 ... features.8, classifier.1), so
// torchvision's weights load by name. Blocks follow torchvision's MBConv: optional 1x1 expansion,
// depthwise k x k, squeeze-and-excitation (fc1, fc2 with biases), 1x1 projection; SiLU
// activations; stochastic depth in training (row mode, probability 0.2 * block / blocks).
#include <cmath>
#include <memory>
#include <vector>

#include "worker/models.h"

namespace ensweep {
namespace {

namespace nn = torch::nn;

// torchvision's Conv2dNormActivation: children "0" (conv, no bias) and "1" (BatchNorm); the
// activation has no parameters and is applied in forward.
nn::Sequential ConvBn(int in, int out, int kernel, int stride, int groups) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                       .stride(stride)
                                       .padding((kernel - 1) / 2)
                                       .groups(groups)
                                       .bias(false)),
                        BatchNorm2d(out));
}

struct SqueezeExcitationImpl : nn::Module {
  SqueezeExcitationImpl(int channels, int squeezed) {
    fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, squeezed, 1)));
    fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(squeezed, channels, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor scale = torch::adaptive_avg_pool2d(x, {1, 1});
    scale = torch::sigmoid(fc2(torch::silu(fc1(scale))));
    return x * scale;
  }
  nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

struct MBConvImpl : nn::Module {
  MBConvImpl(int expand, int kernel, int stride, int in, int out, double drop)
      : residual(stride == 1 && in == out), drop_probability(drop) {
    const int expanded = in * expand;
    if (expand != 1) {
      block->push_back(ConvBn(in, expanded, 1, 1, 1));
      activated.push_back(true);
    }
    block->push_back(ConvBn(expanded, expanded, kernel, stride, expanded));
    activated.push_back(true);
    block->push_back(SqueezeExcitation(expanded, std::max(1, in / 4)));
    activated.push_back(false);
    block->push_back(ConvBn(expanded, out, 1, 1, 1));
    activated.push_back(false);
    register_module("block", block);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    torch::Tensor x = input;
    for (size_t i = 0; i < block->size(); ++i) {
      x = block->ptr(i)->as<nn::Sequential>() ? block->ptr(i)->as<nn::Sequential>()->forward(x)
                                              : block->ptr(i)->as<SqueezeExcitation>()->forward(x);
      if (activated[i]) x = torch::silu(x);
    }
    if (!residual) return x;
    if (is_training() && drop_probability > 0) {  // stochastic depth, one draw per sample
      const double survival = 1.0 - drop_probability;
      torch::Tensor keep = torch::empty({x.size(0), 1, 1, 1}, x.options()).bernoulli_(survival);
      x = x * keep / survival;
    }
    return x + input;
  }

  nn::ModuleList block;
  std::vector<bool> activated;
  bool residual;
  double drop_probability;
};
TORCH_MODULE(MBConv);

struct StageConfig {
  int expand, kernel, stride, in, out, layers;
};

}  // namespace

EfficientNetB0Impl::EfficientNetB0Impl(int num_classes) {
  const std::vector<StageConfig> stages = {
      {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},  {6, 3, 2, 40, 80, 3},
      {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};
  int total = 0;
  for (const StageConfig& s : stages) total += s.layers;
  features = nn::ModuleList();
  features->push_back(ConvBn(3, 32, 3, 2, 1));
  int block_id = 0;
  for (const StageConfig& s : stages) {
    nn::Sequential stage;
    for (int i = 0; i < s.layers; ++i) {
      const double drop = 0.2 * block_id++ / total;
      stage->push_back(
          MBConv(s.expand, s.kernel, i == 0 ? s.stride : 1, i == 0 ? s.in : s.out, s.out, drop));
    }
    features->push_back(stage);
  }
  features->push_back(ConvBn(320, 1280, 1, 1, 1));
  register_module("features", features);
  classifier = nn::Sequential(nn::Dropout(0.2), nn::Linear(1280, num_classes));
  register_module("classifier", classifier);

  // torchvision's initialisation.
  torch::NoGradGuard no_grad;
  for (const std::shared_ptr<nn::Module>& module : modules(/*include_self=*/false)) {
    if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(module.get())) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(module.get())) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* linear = dynamic_cast<nn::LinearImpl*>(module.get())) {
      const double range = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(0)));
      nn::init::uniform_(linear->weight, -range, range);
      nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor EfficientNetB0Impl::forward(torch::Tensor images) {
  torch::Tensor x = images;
  const size_t last = features->size() - 1;
  for (size_t i = 0; i < features->size(); ++i) {
    if (i == 0 || i == last) {
      x = torch::silu(features->ptr(i)->as<nn::Sequential>()->forward(x));
    } else {
      x = features->ptr(i)->as<nn::Sequential>()->forward(x);
    }
  }
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return classifier->forward(x);
}

}  // namespace ensweep
