// The seed's training recipe, piece by piece: augmentation, heads, SWA, schedules, and a tiny trial
// per option family.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that Catch's
// CHECK is the one in force.
#include "worker/heads.h"
#include "worker/models.h"
#include "worker/swa.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/csv.h"
#include "core/mask_layout.h"
#include "datagen/mask_generator.h"
#include "tests/worker/tiny_mask_data.h"
#include "worker/augment.h"
#include "worker/schedule.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<uint8_t> Gradient(int w, int h) {
  std::vector<uint8_t> image(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        image[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((x * 7 + y * 3 + c * 50) % 256);
      }
    }
  }
  return image;
}

TEST_CASE("flip_p 0 copies every image and flip_p 1 mirrors every image exactly",
          "[worker][augment]") {
  const int w = 9, h = 5;
  const std::vector<uint8_t> image = Gradient(w, h);
  TrialParams params;
  Rng rng(3);
  std::vector<float> plain(3 * w * h), flipped(3 * w * h);
  for (int i = 0; i < 20; ++i) {
    params.flip_p = 0;
    FillImage(image.data(), w, h, DrawPlan(params, w, h, true, rng), plain.data());
    params.flip_p = 1;
    FillImage(image.data(), w, h, DrawPlan(params, w, h, true, rng), flipped.data());
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
          const float want =
              (image[(static_cast<size_t>(y) * w + x) * 3 + c] / 255.0f - mean[c]) / stdev[c];
          REQUIRE(plain[static_cast<size_t>((c * h + y) * w + x)] == want);
          REQUIRE(flipped[static_cast<size_t>((c * h + y) * w + (w - 1 - x))] == want);
        }
      }
    }
  }
}

TEST_CASE("crops, shifts and jitter stay within the image and are seeded", "[worker][augment]") {
  const int w = 16, h = 20;
  const std::vector<uint8_t> image = Gradient(w, h);
  TrialParams params;
  params.crop_scale = 0.5;
  params.shift = 0.1;
  params.brightness = params.contrast = params.saturation = 0.3;
  params.center_crop = 0.8;
  Rng a(5), b(5);
  std::vector<float> first(3 * w * h), second(3 * w * h);
  for (int i = 0; i < 10; ++i) {
    const ImagePlan plan = DrawPlan(params, w, h, true, a);
    CHECK(plan.w <= w * 0.8 + 1e-9);
    CHECK(plan.w * plan.h >= 0.43 * 0.64 * w * h);  // area >= 0.5, less a clamped side
    FillImage(image.data(), w, h, plan, first.data());
    FillImage(image.data(), w, h, DrawPlan(params, w, h, true, b), second.data());
    CHECK(first == second);
    for (float v : first) {  // a [0, 1] value normalised with ImageNet mean and std
      REQUIRE(v >= -2.2f);
      REQUIRE(v <= 2.7f);
    }
  }
  const ImagePlan eval = EvalPlan(params, w, h, false);
  CHECK(eval.x0 == Approx(1.6));
  CHECK(eval.w == Approx(12.8));
  CHECK_FALSE(eval.Jitters());
}

TEST_CASE("schedules warm up, step, anneal and hand over to the SWA rate", "[worker][schedule]") {
  TrialParams p;
  p.lr = 0.1;
  p.epochs = 10;
  CHECK(LearningRate(p, 7, 0.5) == 0.1);
  p.schedule = "step";
  p.step_size = 3;
  p.step_gamma = 0.5;
  CHECK(LearningRate(p, 3, 0.9) == Approx(0.1));
  CHECK(LearningRate(p, 4, 0.0) == Approx(0.05));
  CHECK(LearningRate(p, 7, 0.0) == Approx(0.025));
  p.schedule = "cosine";
  p.warmup_epochs = 2;
  CHECK(LearningRate(p, 1, 0.5) == Approx(0.025));
  CHECK(LearningRate(p, 2, 0.5) == Approx(0.075));
  CHECK(LearningRate(p, 3, 0.0) == Approx(0.1));
  CHECK(LearningRate(p, 7, 0.0) == Approx(0.05));
  p.swa = true;
  p.swa_start = 8;
  p.swa_lr = 0.003;
  CHECK(LearningRate(p, 8, 0.0) == 0.003);
}

TEST_CASE("multitask probabilities sum to 1 and factor into mask, gender and age",
          "[worker][heads]") {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({5, 8});
  const torch::Tensor probs = HeadProbabilities(logits, "multitask");
  REQUIRE(probs.sizes() == torch::IntArrayRef({5, 18}));
  const torch::Tensor mask = torch::softmax(logits.narrow(1, 0, 3), 1);
  const torch::Tensor gender = torch::softmax(logits.narrow(1, 3, 2), 1);
  const torch::Tensor age = torch::softmax(logits.narrow(1, 5, 3), 1);
  for (int64_t r = 0; r < 5; ++r) {
    CHECK(probs[r].sum().item<double>() == Approx(1.0).margin(1e-6));
    for (int c = 0; c < kNumClasses; ++c) {
      const double want = mask[r][MaskOf(c)].item<double>() *
                          gender[r][GenderOf(c)].item<double>() *
                          age[r][AgeBandOf(c)].item<double>();
      CHECK(probs[r][c].item<double>() == Approx(want).margin(1e-7));
    }
    // Marginals: summing over gender and age gives the mask probabilities back.
    CHECK(probs[r].view({3, 2, 3}).sum({1, 2})[1].item<double>() ==
          Approx(mask[r][1].item<double>()).margin(1e-6));
  }
  CHECK(HeadProbabilities(torch::randn({2, 18}), "single").sum(1)[1].item<double>() ==
        Approx(1.0).margin(1e-6));
}

TEST_CASE("the multitask loss weighs each task and smooths age separately", "[worker][heads]") {
  torch::manual_seed(1);
  const torch::Tensor logits = torch::randn({6, 8});
  const torch::Tensor labels = torch::tensor({0, 5, 7, 11, 13, 17}, torch::kInt64);
  TrialParams p;
  p.head = "multitask";
  p.mask_loss_weight = 0;
  p.gender_loss_weight = 0;
  p.age_loss_weight = 2;
  p.age_label_smoothing = 0.1;
  const torch::Tensor age = torch::remainder(labels, 3);
  const double want = 2 * torch::nn::functional::cross_entropy(
                              logits.narrow(1, 5, 3), age,
                              torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.1))
                              .item<double>();
  CHECK(HeadLoss(logits, labels, p, {}).item<double>() == Approx(want).epsilon(1e-6));
}

struct TinyBn : torch::nn::Module {
  TinyBn() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 1)));
    bn = register_module("bn", torch::nn::BatchNorm2d(2));
  }
  torch::Tensor forward(const torch::Tensor& x) { return bn(conv(x)); }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};

TEST_CASE("SWA averages the snapshots' weights and recomputes BatchNorm statistics",
          "[worker][swa]") {
  TinyBn model;
  SwaAverager swa;
  std::vector<torch::Tensor> snapshots;
  torch::manual_seed(2);
  for (int i = 0; i < 3; ++i) {
    {
      torch::NoGradGuard no_grad;
      for (torch::Tensor p : model.parameters()) p.copy_(torch::randn_like(p));
    }
    snapshots.push_back(model.conv->weight.detach().clone());
    swa.Add(model);
  }
  CHECK(swa.count() == 3);
  swa.CopyTo(model);
  const torch::Tensor mean = (snapshots[0] + snapshots[1] + snapshots[2]) / 3;
  CHECK(torch::allclose(model.conv->weight, mean, 1e-6, 1e-7));

  // Statistics over all batches with equal weight (not a momentum average).
  std::vector<torch::Tensor> batches = {torch::randn({4, 1, 3, 3}) * 2 + 1,
                                        torch::randn({4, 1, 3, 3}) - 3};
  model.bn->running_mean.fill_(100);
  model.eval();
  size_t next = 0;
  const int seen = RecomputeBatchNorm(
      model, [&]() { return next < batches.size() ? batches[next++] : torch::Tensor(); },
      [&](const torch::Tensor& x) { return model.forward(x); });
  CHECK(seen == 2);
  CHECK_FALSE(model.is_training());
  torch::NoGradGuard no_grad;
  const torch::Tensor m0 = model.conv(batches[0]).mean({0, 2, 3});
  const torch::Tensor m1 = model.conv(batches[1]).mean({0, 2, 3});
  CHECK(torch::allclose(model.bn->running_mean, (m0 + m1) / 2, 1e-5, 1e-6));
  CHECK(model.bn->options.momentum().value() == Approx(0.1));
}

const test::TinyMaskData& Data() {
  static const test::TinyMaskData data("recipe_test", 16, 2, 5);
  return data;
}

Trainer& SharedTrainer() {
  static const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(Data().Study("recipe-test"), 2);
  return *trainer;
}

struct Context : TrialContext {
  bool ReportEpoch(const EpochReport& report) override {
    reports.push_back(report);
    return true;
  }
  void KeepAlive() override {}
  std::vector<EpochReport> reports;
};

TrialResult RunTrial(json params, int epochs, uint64_t seed = 1) {
  static int number = 0;
  TrialRequest request;
  request.trial_number = ++number;
  request.seed = seed;
  params["batch_size"] = 16;
  request.params = params;
  request.epochs = epochs;
  request.artifact_dir = (Data().root / "artifacts" / std::to_string(number)).string();
  Context context;
  TrialResult result = SharedTrainer().Run(request, context);
  REQUIRE(context.reports.size() == static_cast<size_t>(epochs));
  for (const char* metric : {"val_macro_f1", "val_mask_f1", "val_gender_accuracy", "val_age_f1"}) {
    INFO(metric);
    REQUIRE(result.metrics.count(metric) == 1);
    CHECK(std::isfinite(result.metrics.at(metric)));
  }
  return result;
}

TEST_CASE("a tiny trial completes for every option family", "[worker][recipe]") {
  const std::vector<json> families = {
      {{"head", "multitask"},
       {"age_loss_weight", 2.0},
       {"label_smoothing", 0.1},
       {"age_label_smoothing", 0.2},
       {"class_weighting", "balanced"}},
      {{"optimizer", "sgd"},
       {"nesterov", true},
       {"schedule", "cosine"},
       {"warmup_epochs", 1},
       {"grad_clip", 1.0}},
      {{"optimizer", "adamw"}, {"lr", 0.001}, {"weight_decay", 0.05}, {"schedule", "step"}},
      {{"optimizer", "adam"},
       {"lr", 0.001},
       {"crop_scale", 0.6},
       {"shift", 0.1},
       {"brightness", 0.2},
       {"contrast", 0.2},
       {"saturation", 0.2},
       {"center_crop", 0.9},
       {"tta", "hflip"}},
      {{"backbone", "efficientnet_b0"}, {"optimizer", "adam"}, {"lr", 0.001}},
  };
  for (const json& family : families) {
    INFO(family.dump());
    RunTrial(family, 2);
  }
}

TEST_CASE("an SWA trial saves the averaged model and its confusion matrix", "[worker][recipe]") {
  const TrialResult result =
      RunTrial({{"swa", true}, {"swa_start", 2}, {"swa_freq", 1}, {"swa_lr", 5e-4}}, 3);
  CHECK(result.metrics.at("swa_snapshots") == 2);
  const CsvTable table =
      ReadCsv((Data().root / "artifacts" /
               fs::path(result.artifacts.front().path).parent_path().filename() / "confusion.csv")
                  .string());
  CHECK(table.header.size() == 19);
  CHECK(table.rows.size() == 18);
}

TEST_CASE("the same seed gives the same metrics with the full recipe", "[worker][recipe]") {
  const json params = {{"head", "multitask"}, {"crop_scale", 0.7}, {"brightness", 0.2},
                       {"swa", true},         {"swa_start", 1},    {"tta", "hflip"}};
  const TrialResult first = RunTrial(params, 2, 7);
  const TrialResult second = RunTrial(params, 2, 7);
  CHECK(first.metrics == second.metrics);
}

TEST_CASE("a pretrained, frozen resnet18 trial loads exported weights", "[worker][recipe]") {
  if (std::system("/usr/bin/python3 -c 'import torchvision' 2>/dev/null") != 0) {
    WARN("skipped: /usr/bin/python3 cannot import torchvision");
    return;
  }
  const fs::path dir = Data().root / "weights";
  fs::create_directories(dir);
  const std::string command = std::string("/usr/bin/python3 ") + ENSWEEP_SOURCE_DIR +
                              "/tools/export_torchvision_weights.py --random --arch resnet18 "
                              "--out " +
                              dir.string() + "/ >/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  RunTrial({{"backbone", "resnet18"},
            {"pretrained", true},
            {"weights", dir.string()},
            {"freeze_backbone", true},
            {"head", "multitask"}},
           1);
  REQUIRE_THROWS_WITH(
      RunTrial({{"backbone", "resnet34"}, {"pretrained", true}, {"weights", dir.string()}}, 1),
      Catch::Contains("resnet34.pt"));
}

}  // namespace
}  // namespace ensweep
