// torchvision conformance: weights written by
// tools/export_torchvision_weights.py (random torchvision models) load by name
// into ensweep's backbones and give torchvision's logits. Needs
// /usr/bin/python3 with torchvision (scripts/setup.sh --test installs
// python3-torchvision); without it the checks are skipped with a warning.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "worker/models.h"
#include "worker/weights.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "tests/scratch_dir.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

const char* kPython = "/usr/bin/python3";

bool HaveTorchvision() {
  static const bool have =
      std::system((std::string(kPython) + " -c 'import torchvision' 2>/dev/null").c_str()) == 0;
  return have;
}

// True if the conformance check can run. Off CI a missing torchvision skips
// with a warning; on CI (CI set, as .ci/run runs) it fails, so that a broken
// set-up cannot pass these tests unchecked.
bool TorchvisionOrSkip() {
  if (HaveTorchvision()) return true;
  if (std::getenv("CI") != nullptr) {
    FAIL(kPython << " cannot import torchvision (scripts/setup.sh --test installs it)");
  }
  WARN("skipped: " << kPython << " cannot import torchvision");
  return false;
}

struct Export {
  fs::path weights, input, logits;
};

// Runs the tool for `arch` with random weights (seed 0) and a 96x128 check
// batch.
Export RunExport(const std::string& arch, bool torchscript = false) {
  // One folder per process, removed at exit: ~190 MB of weights once every backbone ran.
  static const fs::path dir = test::FreshDir("ensweep_conformance", "export");
  const std::string stem = arch + (torchscript ? "_ts" : "");
  Export out{dir / (stem + ".pt"), dir / (stem + "_x.npy"), dir / (stem + "_logits.npy")};
  const std::string command = std::string(kPython) + " " + ENSWEEP_SOURCE_DIR +
                              "/tools/export_torchvision_weights.py --random --seed 0 --arch " +
                              arch + " --out " + out.weights.string() + " --check-input " +
                              out.input.string() + " --check-logits " + out.logits.string() +
                              (torchscript ? " --torchscript" : "") + " >/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  return out;
}

void CheckSameLogits(const std::string& arch) {
  if (!TorchvisionOrSkip()) return;
  const Export files = RunExport(arch);
  std::shared_ptr<ClassifierImpl> model = MakeClassifier(arch, 1000);
  LoadWeights(*model, files.weights.string(), /*include_head=*/true);
  model->eval();
  const Matrix input = ReadNpy(files.input.string());
  const Matrix want = ReadNpy(files.logits.string());
  REQUIRE(input.rows == 2);
  REQUIRE(input.cols == 3 * 128 * 96);
  torch::Tensor x =
      torch::from_blob(const_cast<float*>(input.values.data()), {2, 3, 128, 96}, torch::kFloat32);
  torch::NoGradGuard no_grad;
  const torch::Tensor got = model->forward(x).contiguous();
  REQUIRE(got.size(1) == want.cols);
  const torch::Tensor expected =
      torch::from_blob(const_cast<float*>(want.values.data()), {2, want.cols}, torch::kFloat32);
  const double max_error = (got - expected).abs().max().item<double>();
  INFO(arch << ": max |logit difference| " << max_error);
  CHECK(max_error <= 1e-4);
}

}  // namespace

TEST_CASE("torchvision resnet18 weights give torchvision's logits", "[worker][conformance]") {
  CheckSameLogits("resnet18");
}

TEST_CASE("torchvision resnet34 weights give torchvision's logits", "[worker][conformance]") {
  CheckSameLogits("resnet34");
}

TEST_CASE("torchvision efficientnet_b0 weights give torchvision's logits",
          "[worker][conformance]") {
  CheckSameLogits("efficientnet_b0");
}

TEST_CASE("a weight file that does not fit the backbone is a clear error",
          "[worker][conformance]") {
  if (!TorchvisionOrSkip()) return;
  const Export files = RunExport("resnet18");
  std::shared_ptr<ClassifierImpl> deeper = MakeClassifier("resnet34", 18);
  REQUIRE_THROWS_AS(LoadWeights(*deeper, files.weights.string(), false), UserError);
  REQUIRE_THROWS_WITH(LoadWeights(*deeper, files.weights.string(), false),
                      Catch::Contains("missing") && Catch::Contains("layer1.2.bn1.weight"));
  std::shared_ptr<ClassifierImpl> bottleneck = MakeClassifier("resnet50", 18);
  REQUIRE_THROWS_WITH(LoadWeights(*bottleneck, files.weights.string(), false),
                      Catch::Contains("mis-shaped") &&
                          Catch::Contains("layer1.0.conv1.weight (file [64, 64, 3, 3], model "
                                          "[64, 64, 1, 1])"));
  std::shared_ptr<ClassifierImpl> small = MakeClassifier("custom_cnn", 18);
  REQUIRE_THROWS_WITH(LoadWeights(*small, files.weights.string(), false),
                      Catch::Contains("unexpected") && Catch::Contains("conv1.weight"));

  // The same file fits an 18-class resnet18 when the head is left out; freezing
  // keeps the head.
  std::shared_ptr<ClassifierImpl> model = MakeClassifier("resnet18", 18);
  LoadWeights(*model, files.weights.string(), false);
  FreezeBackbone(*model);
  int trainable = 0;
  for (const auto& item : model->named_parameters()) {
    if (item.value().requires_grad()) {
      ++trainable;
      CHECK(item.key().rfind("fc.", 0) == 0);
    }
  }
  CHECK(trainable == 2);
  CHECK(ResolveWeightFile(files.weights.parent_path().string(), "resnet18") ==
        files.weights.string());
  REQUIRE_THROWS_WITH(ResolveWeightFile(files.weights.parent_path().string(), "resnet152"),
                      Catch::Contains("resnet152.pt"));
}

TEST_CASE(
    "a torchvision backbone exported as TorchScript gives torchvision's "
    "features",
    "[worker][conformance]") {
  if (!TorchvisionOrSkip()) return;
  const Export files = RunExport("resnet18", /*torchscript=*/true);
  TorchScriptClassifierImpl model(files.weights.string(), 18, 96, 128);
  model.eval();
  const Matrix input = ReadNpy(files.input.string());
  const Matrix want = ReadNpy(files.logits.string());  // the scripted backbone's 512 features
  REQUIRE(want.cols == 512);
  CHECK(model.fc->weight.sizes() == torch::IntArrayRef({18, 512}));
  torch::Tensor x =
      torch::from_blob(const_cast<float*>(input.values.data()), {2, 3, 128, 96}, torch::kFloat32);
  torch::NoGradGuard no_grad;
  const torch::Tensor got = model.backbone.forward({x}).toTensor().contiguous();
  const torch::Tensor expected =
      torch::from_blob(const_cast<float*>(want.values.data()), {2, 512}, torch::kFloat32);
  const double max_error = (got - expected).abs().max().item<double>();
  INFO("max |feature difference| " << max_error);
  CHECK(max_error <= 1e-4);
  // Every backbone tensor is visible to the trainer (optimiser, freezing,
  // checkpoints).
  size_t registered = 0;
  for (const auto& item : model.named_parameters()) registered += item.key().rfind("ts_", 0) == 0;
  CHECK(registered == model.backbone.parameters().size());
}

}  // namespace ensweep
