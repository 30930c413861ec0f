#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that
// Catch's CHECK is the one in force.
#include <torch/serialize.h>

#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/csv.h"
#include "core/error.h"
#include "core/mask_layout.h"
#include "core/npy.h"
#include "datagen/mask_generator.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

// A tiny competition-format data set, generated once per test binary and removed at exit.
struct TinyData {
  fs::path root =
      fs::temp_directory_path() / ("ensweep_trainer_test_" + std::to_string(::getpid()));
  DatagenSummary summary;
  TinyData() {
    DatagenOptions options;
    options.people = 24;
    options.eval_people = 4;
    options.width = 32;
    options.height = 40;
    options.seed = 11;
    summary = GenerateMaskDataset(root.string(), options);
  }
  ~TinyData() { fs::remove_all(root); }
};

const TinyData& Data() {
  static const TinyData data;
  return data;
}

StudySpec TinyStudy() {
  StudySpec study;
  study.name = "worker-test";
  study.data.format = "mask";
  study.data.train = (Data().root / "train").string();
  study.data.eval = (Data().root / "eval").string();
  study.data.width = 32;
  study.data.height = 40;
  study.data.split.val_fraction = 0.25;
  return study;
}

// One trainer for the whole binary, as a worker keeps one: images are decoded once.
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
  CHECK(result.metrics == context.reports.back().metrics);
  CHECK(result.epochs_completed == epochs);
  CHECK_FALSE(result.stopped_early);
  CHECK(context.keep_alives > epochs * 5);  // at least once per batch (126 / 16 -> 8 a epoch)

  const auto kinds = ByKind(result);
  REQUIRE(kinds.size() == 5);
  REQUIRE(kinds.count("confusion_matrix") == 1);
  CHECK(fs::path(kinds.at("confusion_matrix").path).filename() == "confusion.csv");
  for (const auto& [kind, artifact] : kinds) {
    INFO(kind);
    CHECK(fs::file_size(artifact.path) == static_cast<uintmax_t>(artifact.size_bytes));
    CHECK(artifact.checksum.rfind("fnv1a64:", 0) == 0);
    CHECK(fs::path(artifact.path).parent_path() == fs::path(request.artifact_dir));
  }

  // The validation rows are whole persons (all 7 photos) and match val_index.csv row by row.
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
  CheckProbabilityRows(ReadNpy(kinds.at("eval_probs").path), Data().summary.eval_images);

  // The checkpoint loads by name into a freshly built model of the same backbone.
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

TEST_CASE("unsupported data formats and unreadable images fail with a clear message",
          "[worker][trainer]") {
  RecordingContext context;
  StudySpec folder_study = TinyStudy();
  folder_study.data.format = "imagefolder";
  REQUIRE_THROWS_WITH(MakeTorchTrainer(folder_study, 1)->Run(Request({}, 1), context),
                      Catch::Contains("data format imagefolder is not supported yet"));

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
  // The failed load is remembered: the next trial fails at once with the same message.
  REQUIRE_THROWS_WITH(trainer->Run(Request({}, 1), context), Catch::Contains(victim.string()));
  CHECK(context.reports.empty());
}

}  // namespace ensweep
