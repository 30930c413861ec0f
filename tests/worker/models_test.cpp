#include <cstdint>
#include <map>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that
// Catch's CHECK is the one in force.
#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

namespace ensweep {
namespace {

using Shape = std::vector<int64_t>;

// Parameters and buffers by name, as they appear in a state dict.
std::map<std::string, Shape> StateShapes(torch::nn::Module& model) {
  std::map<std::string, Shape> shapes;
  for (const auto& item : model.named_parameters()) shapes[item.key()] = item.value().sizes().vec();
  for (const auto& item : model.named_buffers()) shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

// torchvision 0.14's resnet18(num_classes=18).state_dict(), generated once with
//   /usr/bin/python3 -c "import torchvision; m = torchvision.models.resnet18(num_classes=18);
//   [print(k, list(v.shape)) for k, v in m.state_dict().items()]"
// Long: a data table, one line per tensor of the reference model.
const std::map<std::string, Shape>& TorchvisionResnet18() {
  static const std::map<std::string, Shape> expected = {
      {"conv1.weight", {64, 3, 7, 7}},
      {"bn1.weight", {64}},
      {"bn1.bias", {64}},
      {"bn1.running_mean", {64}},
      {"bn1.running_var", {64}},
      {"bn1.num_batches_tracked", {}},
      {"layer1.0.conv1.weight", {64, 64, 3, 3}},
      {"layer1.0.bn1.weight", {64}},
      {"layer1.0.bn1.bias", {64}},
      {"layer1.0.bn1.running_mean", {64}},
      {"layer1.0.bn1.running_var", {64}},
      {"layer1.0.bn1.num_batches_tracked", {}},
      {"layer1.0.conv2.weight", {64, 64, 3, 3}},
      {"layer1.0.bn2.weight", {64}},
      {"layer1.0.bn2.bias", {64}},
      {"layer1.0.bn2.running_mean", {64}},
      {"layer1.0.bn2.running_var", {64}},
      {"layer1.0.bn2.num_batches_tracked", {}},
      {"layer1.1.conv1.weight", {64, 64, 3, 3}},
      {"layer1.1.bn1.weight", {64}},
      {"layer1.1.bn1.bias", {64}},
      {"layer1.1.bn1.running_mean", {64}},
      {"layer1.1.bn1.running_var", {64}},
      {"layer1.1.bn1.num_batches_tracked", {}},
      {"layer1.1.conv2.weight", {64, 64, 3, 3}},
      {"layer1.1.bn2.weight", {64}},
      {"layer1.1.bn2.bias", {64}},
      {"layer1.1.bn2.running_mean", {64}},
      {"layer1.1.bn2.running_var", {64}},
      {"layer1.1.bn2.num_batches_tracked", {}},
      {"layer2.0.conv1.weight", {128, 64, 3, 3}},
      {"layer2.0.bn1.weight", {128}},
      {"layer2.0.bn1.bias", {128}},
      {"layer2.0.bn1.running_mean", {128}},
      {"layer2.0.bn1.running_var", {128}},
      {"layer2.0.bn1.num_batches_tracked", {}},
      {"layer2.0.conv2.weight", {128, 128, 3, 3}},
      {"layer2.0.bn2.weight", {128}},
      {"layer2.0.bn2.bias", {128}},
      {"layer2.0.bn2.running_mean", {128}},
      {"layer2.0.bn2.running_var", {128}},
      {"layer2.0.bn2.num_batches_tracked", {}},
      {"layer2.0.downsample.0.weight", {128, 64, 1, 1}},
      {"layer2.0.downsample.1.weight", {128}},
      {"layer2.0.downsample.1.bias", {128}},
      {"layer2.0.downsample.1.running_mean", {128}},
      {"layer2.0.downsample.1.running_var", {128}},
      {"layer2.0.downsample.1.num_batches_tracked", {}},
      {"layer2.1.conv1.weight", {128, 128, 3, 3}},
      {"layer2.1.bn1.weight", {128}},
      {"layer2.1.bn1.bias", {128}},
      {"layer2.1.bn1.running_mean", {128}},
      {"layer2.1.bn1.running_var", {128}},
      {"layer2.1.bn1.num_batches_tracked", {}},
      {"layer2.1.conv2.weight", {128, 128, 3, 3}},
      {"layer2.1.bn2.weight", {128}},
      {"layer2.1.bn2.bias", {128}},
      {"layer2.1.bn2.running_mean", {128}},
      {"layer2.1.bn2.running_var", {128}},
      {"layer2.1.bn2.num_batches_tracked", {}},
      {"layer3.0.conv1.weight", {256, 128, 3, 3}},
      {"layer3.0.bn1.weight", {256}},
      {"layer3.0.bn1.bias", {256}},
      {"layer3.0.bn1.running_mean", {256}},
      {"layer3.0.bn1.running_var", {256}},
      {"layer3.0.bn1.num_batches_tracked", {}},
      {"layer3.0.conv2.weight", {256, 256, 3, 3}},
      {"layer3.0.bn2.weight", {256}},
      {"layer3.0.bn2.bias", {256}},
      {"layer3.0.bn2.running_mean", {256}},
      {"layer3.0.bn2.running_var", {256}},
      {"layer3.0.bn2.num_batches_tracked", {}},
      {"layer3.0.downsample.0.weight", {256, 128, 1, 1}},
      {"layer3.0.downsample.1.weight", {256}},
      {"layer3.0.downsample.1.bias", {256}},
      {"layer3.0.downsample.1.running_mean", {256}},
      {"layer3.0.downsample.1.running_var", {256}},
      {"layer3.0.downsample.1.num_batches_tracked", {}},
      {"layer3.1.conv1.weight", {256, 256, 3, 3}},
      {"layer3.1.bn1.weight", {256}},
      {"layer3.1.bn1.bias", {256}},
      {"layer3.1.bn1.running_mean", {256}},
      {"layer3.1.bn1.running_var", {256}},
      {"layer3.1.bn1.num_batches_tracked", {}},
      {"layer3.1.conv2.weight", {256, 256, 3, 3}},
      {"layer3.1.bn2.weight", {256}},
      {"layer3.1.bn2.bias", {256}},
      {"layer3.1.bn2.running_mean", {256}},
      {"layer3.1.bn2.running_var", {256}},
      {"layer3.1.bn2.num_batches_tracked", {}},
      {"layer4.0.conv1.weight", {512, 256, 3, 3}},
      {"layer4.0.bn1.weight", {512}},
      {"layer4.0.bn1.bias", {512}},
      {"layer4.0.bn1.running_mean", {512}},
      {"layer4.0.bn1.running_var", {512}},
      {"layer4.0.bn1.num_batches_tracked", {}},
      {"layer4.0.conv2.weight", {512, 512, 3, 3}},
      {"layer4.0.bn2.weight", {512}},
      {"layer4.0.bn2.bias", {512}},
      {"layer4.0.bn2.running_mean", {512}},
      {"layer4.0.bn2.running_var", {512}},
      {"layer4.0.bn2.num_batches_tracked", {}},
      {"layer4.0.downsample.0.weight", {512, 256, 1, 1}},
      {"layer4.0.downsample.1.weight", {512}},
      {"layer4.0.downsample.1.bias", {512}},
      {"layer4.0.downsample.1.running_mean", {512}},
      {"layer4.0.downsample.1.running_var", {512}},
      {"layer4.0.downsample.1.num_batches_tracked", {}},
      {"layer4.1.conv1.weight", {512, 512, 3, 3}},
      {"layer4.1.bn1.weight", {512}},
      {"layer4.1.bn1.bias", {512}},
      {"layer4.1.bn1.running_mean", {512}},
      {"layer4.1.bn1.running_var", {512}},
      {"layer4.1.bn1.num_batches_tracked", {}},
      {"layer4.1.conv2.weight", {512, 512, 3, 3}},
      {"layer4.1.bn2.weight", {512}},
      {"layer4.1.bn2.bias", {512}},
      {"layer4.1.bn2.running_mean", {512}},
      {"layer4.1.bn2.running_var", {512}},
      {"layer4.1.bn2.num_batches_tracked", {}},
      {"fc.weight", {18, 512}},
      {"fc.bias", {18}},
  };
  return expected;
}

}  // namespace

TEST_CASE("resnet18 has exactly torchvision's parameter and buffer names and shapes",
          "[worker][models]") {
  std::shared_ptr<ClassifierImpl> model = MakeClassifier("resnet18", 18);
  const std::map<std::string, Shape> actual = StateShapes(*model);
  for (const auto& [name, shape] : TorchvisionResnet18()) {
    INFO(name);
    REQUIRE(actual.count(name) == 1);
    CHECK(actual.at(name) == shape);
  }
  for (const auto& [name, shape] : actual) {
    INFO("not in torchvision: " << name);
    CHECK(TorchvisionResnet18().count(name) == 1);
  }
}

TEST_CASE("deeper resnets match torchvision's state size and bottleneck names",
          "[worker][models]") {
  // Entry counts and total elements of torchvision's state dicts (num_classes=18).
  const std::map<std::string, std::pair<size_t, int64_t>> expected = {
      {"resnet34", {218, 21310966}},
      {"resnet50", {320, 23598087}},
      {"resnet101", {626, 42642490}},
      {"resnet152", {932, 58332269}},
  };
  for (const auto& [backbone, counts] : expected) {
    INFO(backbone);
    const std::map<std::string, Shape> shapes = StateShapes(*MakeClassifier(backbone, 18));
    int64_t elements = 0;
    for (const auto& [name, shape] : shapes) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      elements += n;
    }
    CHECK(shapes.size() == counts.first);
    CHECK(elements == counts.second);
  }
  const std::map<std::string, Shape> resnet50 = StateShapes(*MakeClassifier("resnet50", 18));
  CHECK(resnet50.at("layer1.0.conv3.weight") == Shape{256, 64, 1, 1});
  CHECK(resnet50.at("layer1.0.downsample.0.weight") == Shape{256, 64, 1, 1});
  CHECK(resnet50.at("layer2.0.conv2.weight") == Shape{128, 128, 3, 3});
  CHECK(resnet50.at("layer4.2.bn3.running_var") == Shape{2048});
  CHECK(resnet50.at("fc.weight") == Shape{18, 2048});
}

TEST_CASE("every backbone maps a batch of small images to one logit row per image",
          "[worker][models]") {
  torch::manual_seed(0);
  for (const std::string backbone : {"custom_cnn", "resnet18"}) {
    INFO(backbone);
    std::shared_ptr<ClassifierImpl> model = MakeClassifier(backbone, 18);
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = model->forward(torch::randn({3, 3, 40, 32}));
    CHECK(logits.sizes().vec() == Shape{3, 18});
    CHECK(torch::isfinite(logits).all().item<bool>());
  }
}

TEST_CASE("the same seed builds identical weights", "[worker][models]") {
  torch::manual_seed(7);
  auto first = MakeClassifier("custom_cnn", 18);
  torch::manual_seed(7);
  auto second = MakeClassifier("custom_cnn", 18);
  const auto a = first->named_parameters();
  const auto b = second->named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(torch::equal(a[i].value(), b[i].value()));
}

TEST_CASE("an unknown backbone is rejected by name", "[worker][models]") {
  REQUIRE_THROWS_WITH(MakeClassifier("vgg16", 18), Catch::Contains("vgg16"));
}

}  // namespace ensweep
