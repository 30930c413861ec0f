#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that
// macro so that Catch's CHECK is the one in force.
#include <torch/script.h>
#include <torch/serialize.h>

#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/csv.h"
#include "core/error.h"
#include "core/mask_layout.h"
#include "core/npy.h"
#include "datagen/mask_generator.h"
#include "tests/worker/tiny_mask_data.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

const test::TinyMaskData& Data() {
  static const test::TinyMaskData data("trainer_test", 24, 4, 11);
  return data;
}

StudySpec TinyStudy() { return Data().Study("worker-test"); }

// One trainer for the whole binary, as a worker keeps one: images are decoded
// once.
Trainer& SharedTrainer() {
  static const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(TinyStudy(), 2);
  return *trainer;
}

class RecordingContext : public TrialContext {
 public:
  explicit RecordingContext(int stop_after_epoch = 0) : stop_after_epoch_(stop_after_epoch) {}
  bool ReportEpoch(const EpochReport& report) override {
    reports.push_back(report);
    return stop_after_epoch_ == 0 || report.epoch < stop_after_epoch_;
  }
  void KeepAlive() override { ++keep_alives; }

  std::vector<EpochReport> reports;
  int keep_alives = 0;

 private:
  int stop_after_epoch_;
};

TrialRequest Request(const nlohmann::json& params, int epochs, uint64_t seed = 1) {
  static int number = 0;
  TrialRequest request;
  request.trial_number = ++number;
  request.seed = seed;
  request.params = params;
  request.epochs = epochs;
  request.artifact_dir = (Data().root / "artifacts" / std::to_string(number)).string();
  return request;
}

std::map<std::string, ArtifactRecord> ByKind(const TrialResult& result) {
  std::map<std::string, ArtifactRecord> kinds;
  for (const ArtifactRecord& artifact : result.artifacts) kinds[artifact.kind] = artifact;
  return kinds;
}

void CheckProbabilityRows(const Matrix& probs, int64_t rows) {
  REQUIRE(probs.rows == rows);
  REQUIRE(probs.cols == kNumClasses);
  for (int64_t r = 0; r < probs.rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < probs.cols; ++c) {
      REQUIRE(probs.at(r, c) >= 0.0f);
      sum += probs.at(r, c);
    }
    REQUIRE(sum == Approx(1.0).margin(1e-4));
  }
}

// Runs one trial and checks everything a completed trial promises.
TrialResult RunAndCheckTrial(const std::string& backbone, int epochs) {
  RecordingContext context;
  const TrialRequest request =
      Request({{"backbone", backbone}, {"batch_size", 16}, {"lr", 0.01}}, epochs);
  const TrialResult result = SharedTrainer().Run(request, context);

  REQUIRE(context.reports.size() == static_cast<size_t>(epochs));
  for (int e = 0; e < epochs; ++e) {
    const EpochReport& report = context.reports[static_cast<size_t>(e)];
    CHECK(report.epoch == e + 1);
    for (const char* metric : {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"}) {
      INFO(metric);
      REQUIRE(report.metrics.count(metric) == 1);
      CHECK(std::isfinite(report.metrics.at(metric)));
    }
    CHECK(report.metrics.at("val_accuracy") >= 0.0);
    CHECK(report.metrics.at("val_accuracy") <= 1.0);
  }
  // objective.scope best (the default): the result is the best epoch's report.
  REQUIRE(result.metrics.count("best_epoch") == 1);
  const int best_epoch = static_cast<int>(result.metrics.at("best_epoch"));
  REQUIRE(best_epoch >= 1);
  REQUIRE(best_epoch <= epochs);
  MetricMap reported = result.metrics;
  reported.erase("best_epoch");
  CHECK(reported == context.reports[static_cast<size_t>(best_epoch - 1)].metrics);
  for (const EpochReport& report : context.reports) {
    CHECK(report.metrics.at("val_macro_f1") <= result.metrics.at("val_macro_f1"));
  }
  CHECK(result.epochs_completed == epochs);
  CHECK_FALSE(result.stopped_early);
  CHECK(context.keep_alives > epochs * 5);  // at least once per batch (126 / 16 -> 8 a epoch)

  const auto kinds = ByKind(result);
  REQUIRE(kinds.size() == 7);
  REQUIRE(kinds.count("confusion_matrix") == 1);
  CHECK(fs::path(kinds.at("confusion_matrix").path).filename() == "confusion.csv");
  for (const auto& [kind, artifact] : kinds) {
    INFO(kind);
    CHECK(fs::file_size(artifact.path) == static_cast<uintmax_t>(artifact.size_bytes));
    CHECK(artifact.checksum.rfind("fnv1a64:", 0) == 0);
    CHECK(fs::path(artifact.path).parent_path() == fs::path(request.artifact_dir));
  }

  // The validation rows are whole persons (all 7 photos) and match
  // val_index.csv row by row.
  const CsvTable index = ReadCsv(kinds.at("val_index").path);
  CHECK(index.header == std::vector<std::string>{"row", "path", "person", "label"});
  std::map<std::string, int> photos_per_person;
  for (size_t r = 0; r < index.rows.size(); ++r) {
    CHECK(index.rows[r][0] == std::to_string(r));
    CHECK(fs::exists(index.rows[r][1]));
    ++photos_per_person[index.rows[r][2]];
  }
  CHECK(index.rows.size() > 0);
  CHECK(index.rows.size() < static_cast<size_t>(Data().summary.train_images));
  for (const auto& [person, photos] : photos_per_person) CHECK(photos == 7);
  CheckProbabilityRows(ReadNpy(kinds.at("val_probs").path),
                       static_cast<int64_t>(index.rows.size()));
  CheckProbabilityRows(ReadNpy(kinds.at("val_probs_hflip").path),
                       static_cast<int64_t>(index.rows.size()));
  CheckProbabilityRows(ReadNpy(kinds.at("eval_probs").path), Data().summary.eval_images);
  CheckProbabilityRows(ReadNpy(kinds.at("eval_probs_hflip").path), Data().summary.eval_images);

  // The checkpoint loads by name into a freshly built model of the same
  // backbone.
  std::shared_ptr<ClassifierImpl> loaded = MakeClassifier(backbone, kNumClasses);
  torch::serialize::InputArchive archive;
  archive.load_from(kinds.at("checkpoint").path);
  loaded->load(archive);
  return result;
}

}  // namespace

TEST_CASE("a custom_cnn trial reports every epoch and writes its artifacts", "[worker][trainer]") {
  RunAndCheckTrial("custom_cnn", 2);
}

TEST_CASE("a resnet18 trial reports every epoch and writes its artifacts", "[worker][trainer]") {
  RunAndCheckTrial("resnet18", 1);
}

TEST_CASE("the same seed gives identical metrics and predictions", "[worker][trainer]") {
  const nlohmann::json params = {{"batch_size", 16}, {"optimizer", "adam"}, {"lr", 0.003}};
  RecordingContext first_context, second_context, other_context;
  const TrialResult first = SharedTrainer().Run(Request(params, 1, 42), first_context);
  const TrialResult second = SharedTrainer().Run(Request(params, 1, 42), second_context);
  const TrialResult other = SharedTrainer().Run(Request(params, 1, 43), other_context);
  CHECK(first.metrics == second.metrics);
  CHECK(ByKind(first).at("val_probs").checksum == ByKind(second).at("val_probs").checksum);
  CHECK(first.metrics.at("train_loss") != other.metrics.at("train_loss"));
}

TEST_CASE("the mirrored view is recorded beside the trial's own predictions", "[worker][trainer]") {
  // tta does not change training, so both trials train the same model; the tta
  // trial's predictions are the mean of the plain trial's and its mirrored
  // view's.
  const nlohmann::json plain_params = {{"batch_size", 16}, {"tta", "none"}};
  nlohmann::json tta_params = plain_params;
  tta_params["tta"] = "hflip";
  RecordingContext plain_context, tta_context;
  const auto plain = ByKind(SharedTrainer().Run(Request(plain_params, 1, 5), plain_context));
  const auto tta = ByKind(SharedTrainer().Run(Request(tta_params, 1, 5), tta_context));
  for (const char* split : {"val", "eval"}) {
    INFO(split);
    const Matrix a = ReadNpy(plain.at(std::string(split) + "_probs").path);
    const Matrix a_flipped = ReadNpy(plain.at(std::string(split) + "_probs_hflip").path);
    const Matrix b = ReadNpy(tta.at(std::string(split) + "_probs").path);
    const Matrix b_flipped = ReadNpy(tta.at(std::string(split) + "_probs_hflip").path);
    REQUIRE(a.values.size() == b.values.size());
    double largest_view_difference = 0;
    for (size_t i = 0; i < a.values.size(); ++i) {
      REQUIRE(b_flipped.values[i] == Approx(a_flipped.values[i]).margin(1e-6));
      REQUIRE(b.values[i] == Approx(0.5 * (a.values[i] + a_flipped.values[i])).margin(1e-5));
      largest_view_difference =
          std::max(largest_view_difference,
                   static_cast<double>(std::fabs(a.values[i] - a_flipped.values[i])));
    }
    CHECK(largest_view_difference > 1e-4);  // the mirrored view is a different input
  }
}

TEST_CASE(
    "k folds predict every training image out of fold and average the "
    "eval predictions",
    "[worker][trainer]") {
  StudySpec study = TinyStudy();
  study.data.split.folds = 3;
  const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(study, 2);
  RecordingContext context;
  const TrialRequest request = Request({{"batch_size", 16}}, 2, 9);
  const TrialResult result = trainer->Run(request, context);
  REQUIRE(context.reports.size() == 2);
  CHECK(result.metrics.at("folds") == 3.0);
  const auto kinds = ByKind(result);
  for (const char* kind : {"checkpoint_fold1", "checkpoint_fold2", "checkpoint_fold3"}) {
    INFO(kind);
    REQUIRE(kinds.count(kind) == 1);
    CHECK(fs::exists(kinds.at(kind).path));
  }
  CHECK(kinds.count("checkpoint") == 0);

  // Every training image appears exactly once, in listing order (sorted by
  // person then file).
  const CsvTable index = ReadCsv(kinds.at("val_index").path);
  REQUIRE(index.rows.size() == static_cast<size_t>(Data().summary.train_images));
  std::set<std::string> paths;
  for (const auto& row : index.rows) paths.insert(row[1]);
  CHECK(paths.size() == index.rows.size());
  CheckProbabilityRows(ReadNpy(kinds.at("val_probs").path),
                       static_cast<int64_t>(index.rows.size()));
  CheckProbabilityRows(ReadNpy(kinds.at("eval_probs").path), Data().summary.eval_images);

  // One model per fold, each trained on its own two thirds of the persons: the
  // checkpoints differ.
  std::vector<torch::Tensor> first_layer;
  for (int f = 1; f <= 3; ++f) {
    std::shared_ptr<ClassifierImpl> model = MakeClassifier("custom_cnn", kNumClasses);
    torch::serialize::InputArchive archive;
    archive.load_from(kinds.at("checkpoint_fold" + std::to_string(f)).path);
    model->load(archive);
    first_layer.push_back(model->parameters().front().clone());
  }
  CHECK_FALSE(torch::equal(first_layer[0], first_layer[1]));
  CHECK_FALSE(torch::equal(first_layer[1], first_layer[2]));

  // The same seed reproduces the k-fold trial exactly.
  RecordingContext again_context;
  const TrialResult again = trainer->Run(Request({{"batch_size", 16}}, 2, 9), again_context);
  CHECK(again.metrics == result.metrics);
  CHECK(ByKind(again).at("val_probs").checksum == kinds.at("val_probs").checksum);
}

// A small backbone written directly in TorchScript: one strided convolution
// with ReLU.
std::string SaveTinyTorchScriptBackbone(const std::string& name) {
  torch::manual_seed(3);
  torch::jit::Module module("TinyBackbone");
  module.register_parameter("weight", torch::randn({8, 3, 3, 3}) * 0.2, false);
  module.register_parameter("bias", torch::zeros({8}), false);
  module.define(R"(
def forward(self, x):
    return torch.relu(torch.conv2d(x, self.weight, self.bias, [2, 2], [1, 1]))
)");
  const fs::path path = Data().root / (name + ".pt");
  module.save(path.string());
  return path.string();
}

// A parameter of a TorchScript classifier's checkpoint, read back through the
// classifier.
torch::Tensor CheckpointTensor(const std::string& backbone, const std::string& checkpoint,
                               const std::string& key) {
  TorchScriptClassifierImpl model(backbone, kNumClasses, 32, 40);
  torch::serialize::InputArchive archive;
  archive.load_from(checkpoint);
  model.load(archive);
  const auto params = model.named_parameters();
  REQUIRE(params.contains(key));
  return params[key].clone();
}

TEST_CASE("a torchscript backbone trains with a fresh head, or frozen", "[worker][trainer]") {
  const std::string path = SaveTinyTorchScriptBackbone("tiny_backbone");
  const torch::Tensor initial = torch::jit::load(path).attr("weight").toTensor();
  for (const bool freeze : {false, true}) {
    INFO("freeze_backbone " << freeze);
    RecordingContext context;
    const TrialResult result = SharedTrainer().Run(Request({{"backbone", "torchscript:" + path},
                                                            {"freeze_backbone", freeze},
                                                            {"batch_size", 16},
                                                            {"lr", 0.05}},
                                                           2),
                                                   context);
    REQUIRE(context.reports.size() == 2);
    CHECK(std::isfinite(result.metrics.at("val_macro_f1")));
    const std::string checkpoint = ByKind(result).at("checkpoint").path;
    const torch::Tensor trained = CheckpointTensor(path, checkpoint, "ts_weight");
    // The head maps the backbone's 8 pooled channels to the 18 classes.
    CHECK(CheckpointTensor(path, checkpoint, "fc.weight").sizes() == torch::IntArrayRef({18, 8}));
    CHECK(torch::equal(trained, initial) == freeze);
  }
  RecordingContext context;
  CHECK_THROWS_WITH(
      SharedTrainer().Run(Request({{"backbone", "torchscript:/no/such/backbone.pt"}}, 1), context),
      Catch::Contains("/no/such/backbone.pt"));
  const fs::path junk = Data().root / "junk_backbone.pt";
  std::ofstream(junk) << "not torchscript";
  CHECK_THROWS_WITH(
      SharedTrainer().Run(Request({{"backbone", "torchscript:" + junk.string()}}, 1), context),
      Catch::Contains("cannot load it as TorchScript"));
  CHECK_THROWS_WITH(
      SharedTrainer().Run(
          Request({{"backbone", "torchscript:" + path}, {"pretrained", true}, {"weights", path}},
                  1),
          context),
      Catch::Contains("starts from the weights saved in its file"));
}

TEST_CASE("bf16 autocast and channels-last train on the CPU; fp16 needs CUDA",
          "[worker][trainer]") {
  const nlohmann::json base = {{"batch_size", 16}, {"lr", 0.01}};
  RecordingContext plain_context;
  const TrialResult plain = SharedTrainer().Run(Request(base, 1, 21), plain_context);
  nlohmann::json channels_last = base;
  channels_last["memory_format"] = "channels_last";
  RecordingContext cl_context;
  const TrialResult cl = SharedTrainer().Run(Request(channels_last, 1, 21), cl_context);
  // The same arithmetic in another memory layout: the same model up to
  // rounding (other summation orders, amplified by an epoch of SGD: the largest
  // probability difference is 1.02e-3 for this seed).
  CHECK(cl.metrics.at("train_loss") == Approx(plain.metrics.at("train_loss")).epsilon(1e-3));
  const Matrix a = ReadNpy(ByKind(plain).at("val_probs").path);
  const Matrix b = ReadNpy(ByKind(cl).at("val_probs").path);
  REQUIRE(a.values.size() == b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i)
    REQUIRE(b.values[i] == Approx(a.values[i]).margin(2e-3));

  nlohmann::json bf16 = base;
  bf16["precision"] = "bf16";
  RecordingContext bf16_context;
  const TrialResult low = SharedTrainer().Run(Request(bf16, 1, 21), bf16_context);
  CHECK(std::isfinite(low.metrics.at("train_loss")));
  // Lower precision changes the numbers, a little.
  CHECK(low.metrics.at("train_loss") != plain.metrics.at("train_loss"));
  CHECK(low.metrics.at("train_loss") == Approx(plain.metrics.at("train_loss")).epsilon(0.05));

  nlohmann::json fp16 = base;
  fp16["precision"] = "fp16";
  RecordingContext fp16_context;
  if (SharedTrainer().Device().rfind("cpu", 0) == 0) {
    CHECK_THROWS_WITH(SharedTrainer().Run(Request(fp16, 1, 21), fp16_context),
                      Catch::Contains("fp16 needs a CUDA device"));
  }
}

TEST_CASE("a STOP answer ends the trial after that epoch", "[worker][trainer]") {
  RecordingContext context(/*stop_after_epoch=*/1);
  const TrialResult result = SharedTrainer().Run(Request({{"batch_size", 32}}, 3), context);
  CHECK(context.reports.size() == 1);
  CHECK(result.epochs_completed == 1);
  CHECK(result.stopped_early);
  CHECK(ByKind(result).count("val_probs") == 1);  // a stopped trial still leaves its predictions
}

TEST_CASE("the epochs parameter overrides the request's budget", "[worker][trainer]") {
  RecordingContext context;
  const TrialResult result =
      SharedTrainer().Run(Request({{"epochs", 1}, {"batch_size", 64}}, 5), context);
  CHECK(context.reports.size() == 1);
  CHECK(result.epochs_completed == 1);
}

TEST_CASE("unknown parameters and backbones fail the trial before training", "[worker][trainer]") {
  RecordingContext context;
  REQUIRE_THROWS_AS(SharedTrainer().Run(Request({{"dropout", 0.5}}, 1), context),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(SharedTrainer().Run(Request({{"dropout", 0.5}}, 1), context),
                      Catch::Contains("dropout") && Catch::Contains("known parameters"));
  REQUIRE_THROWS_WITH(SharedTrainer().Run(Request({{"backbone", "vgg16"}}, 1), context),
                      Catch::Contains("vgg16"));
  CHECK(context.reports.empty());
}

TEST_CASE("a diverging trial fails with the epoch where the loss became NaN", "[worker][trainer]") {
  RecordingContext context;
  REQUIRE_THROWS_WITH(SharedTrainer().Run(Request({{"lr", 1e38}, {"batch_size", 8}}, 3), context),
                      Catch::Contains("loss became") && Catch::Contains("at epoch"));
}

TEST_CASE("the trainer names its device", "[worker][trainer]") {
  const std::string device = SharedTrainer().Device();
  CHECK((device == "cpu, 2 threads" || device.rfind("cuda", 0) == 0));
}

TEST_CASE("unreadable images fail with a clear message", "[worker][trainer]") {
  RecordingContext context;
  // A copy of the training data with one photo overwritten by junk.
  const fs::path copy = Data().root / "broken";
  fs::create_directories(copy);
  fs::copy(Data().root / "train", copy / "train", fs::copy_options::recursive);
  const CsvTable listing = ReadCsv((copy / "train" / "train.csv").string());
  const fs::path person = copy / "train" / "images" / listing.rows[0][listing.Column("path")];
  const fs::path victim = *fs::directory_iterator(person);
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << "not an image";
  StudySpec broken = TinyStudy();
  broken.data.train = (copy / "train").string();
  broken.data.eval.clear();
  const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(broken, 1);
  REQUIRE_THROWS_AS(trainer->Run(Request({}, 1), context), UserError);
  // The failed load is remembered: the next trial fails at once with the same
  // message.
  REQUIRE_THROWS_WITH(trainer->Run(Request({}, 1), context), Catch::Contains(victim.string()));
  CHECK(context.reports.empty());
}

}  // namespace ensweep
