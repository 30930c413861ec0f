// `ensweep predict` and `ensweep export` through the real binary: a small seeded sweep and an
// ensemble, then the ensemble and single trials applied to the study's own eval images must
// reproduce the recorded eval predictions; the exported TorchScript module, loaded by the system
// Python's torch alone, must match predict; bad input is refused with exit status 2.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/csv.h"
#include "core/npy.h"
#include "core/store.h"
#include "e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// 16 persons at 32x40, fed to the models at 24x30 (a resize on decode); 4 one-epoch trials that
// mix backbones and the trial's own hflip TTA.
fs::path SweptStudy() {
  static const fs::path dir = RunGeneratedStudy("predict", 16, 5, 11, R"(study: pred
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [24, 30], split: {seed: 1}}
budget: {trials: 4, epochs: 1}
sampler: {type: random, seed: 3}
space:
  backbone: {choice: [custom_cnn, resnet18]}
  tta: {choice: [none, hflip]}
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  batch_size: 16
ensemble: {method: weights, candidates: 4}
)");
  return dir;
}

double MaxAbsDifference(const Matrix& a, const Matrix& b) {
  REQUIRE(a.rows == b.rows);
  REQUIRE(a.cols == b.cols);
  double most = 0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    most = std::max(most, std::abs(static_cast<double>(a.values[i]) - b.values[i]));
  }
  return most;
}

std::string ArtifactOf(const Store& store, const TrialRecord& trial, const std::string& kind) {
  for (const auto& a : store.Artifacts(trial.id)) {
    if (a.kind == kind) return a.path;
  }
  return "";
}

CommandResult Predict(const fs::path& dir, const std::string& what, const std::string& data,
                      const std::string& out, const std::string& extra = "") {
  return RunCommand(Ensweep() + " predict " + (dir / "study.yaml").string() + " " + what +
                    " --data " + data + " -o " + out + " --format probs --threads 1 --device cpu" +
                    extra);
}

// Runs tests/e2e/check_export.py; false (with a warning) when the system Python lacks torch,
// numpy or PIL.
bool PythonCheck(const std::string& arguments) {
  const auto check =
      RunCommand("/usr/bin/python3 " ENSWEEP_SOURCE_DIR "/tests/e2e/check_export.py " + arguments);
  if (check.status == 3 || check.status == 127) {
    WARN("skipped the Python check: " << check.output);
    return false;
  }
  INFO(check.output);
  CHECK(check.status == 0);
  return true;
}

}  // namespace

TEST_CASE(
    "predict on the study's eval images reproduces the ensemble's and each trial's eval "
    "predictions",
    "[e2e][predict][torch]") {
  const fs::path dir = SweptStudy();
  const std::string study = (dir / "study.yaml").string();
  const auto ensemble = RunCommand(Ensweep() + " ensemble " + study + " --tta hflip --out " +
                                   (dir / "ens.csv").string() + " --format probs");
  INFO(ensemble.output);
  REQUIRE(ensemble.status == 0);
  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto id = store->FindStudy("pred")->id;
  const int64_t ensemble_id = store->Ensembles(id).back().id;

  const fs::path out = dir / "predicted.csv";
  const auto predicted = Predict(dir, "--ensemble " + std::to_string(ensemble_id),
                                 (dir / "data/eval").string(), out.string());
  INFO(predicted.output);
  REQUIRE(predicted.status == 0);
  CHECK_THAT(predicted.output, Catch::Contains("images/s"));
  const Matrix recorded = ReadNpy((dir / "ens.eval_probs.npy").string());
  CHECK(MaxAbsDifference(ReadNpy((dir / "predicted.npy").string()), recorded) < 1e-5);
  // The submission has ensemble's form: info.csv's rows with ans filled.
  const CsvTable info = ReadCsv((dir / "data/eval/info.csv").string());
  const CsvTable written = ReadCsv(out.string());
  REQUIRE(written.rows.size() == info.rows.size());
  CHECK(written.header == ReadCsv((dir / "ens.csv").string()).header);

  // Each trial alone against its own eval_probs.npy (its own tta).
  for (const auto& trial : store->Trials(id)) {
    INFO("trial " << trial.number << " " << trial.params.dump());
    const fs::path single = dir / ("trial" + std::to_string(trial.number) + ".csv");
    const auto one = Predict(dir, "--trial " + std::to_string(trial.number),
                             (dir / "data/eval").string(), single.string());
    INFO(one.output);
    REQUIRE(one.status == 0);
    const Matrix own = ReadNpy(ArtifactOf(*store, trial, "eval_probs"));
    CHECK(MaxAbsDifference(ReadNpy(fs::path(single).replace_extension(".npy").string()), own) <
          1e-5);
  }
}

TEST_CASE("the exported TorchScript module loads in Python alone and matches predict",
          "[e2e][predict][export][torch]") {
  const fs::path dir = SweptStudy();
  const std::string study = (dir / "study.yaml").string();
  const auto ensemble = RunCommand(Ensweep() + " ensemble " + study + " --tta hflip");
  INFO(ensemble.output);
  REQUIRE(ensemble.status == 0);
  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const std::string id = std::to_string(store->Ensembles(store->FindStudy("pred")->id).back().id);

  const fs::path model = dir / "export/model.pt";
  const auto exported =
      RunCommand(Ensweep() + " export --ensemble " + id + " -o " + model.string() + " " + study);
  INFO(exported.output);
  REQUIRE(exported.status == 0);
  REQUIRE(fs::exists(model));
  const auto description = nlohmann::json::parse(ReadFile(dir / "export/model.json"));
  CHECK(description["image_size"] == nlohmann::json::array({24, 30}));
  CHECK(description["class_names"].size() == 18);
  CHECK(description["members"].size() == description["weights"].size());

  // The pixels predict decoded (at the study's size), through the module.
  const auto predicted = Predict(dir, "--ensemble " + id, (dir / "data/eval").string(),
                                 (dir / "export/eval.csv").string(),
                                 " --save-inputs " + (dir / "export/inputs.npy").string());
  INFO(predicted.output);
  REQUIRE(predicted.status == 0);
  if (!PythonCheck("inputs " + model.string() + " " + (dir / "export/inputs.npy").string() + " " +
                   (dir / "export/eval.npy").string())) {
    return;
  }
  // Full-size PNG copies: ensweep decodes and resizes them, the module resizes PIL's pixels.
  const fs::path png = dir / "export/png_eval";
  REQUIRE(PythonCheck("png " + (dir / "data/eval").string() + " " + png.string()));
  const auto on_png =
      Predict(dir, "--ensemble " + id, png.string(), (dir / "export/png.csv").string());
  INFO(on_png.output);
  REQUIRE(on_png.status == 0);
  PythonCheck("images " + model.string() + " " + png.string() + " " +
              (dir / "export/png.npy").string());
}

TEST_CASE("predict refuses an unknown model and a deleted checkpoint and an unreadable image",
          "[e2e][predict][torch]") {
  const fs::path dir = SweptStudy();
  const std::string eval = (dir / "data/eval").string();
  const auto no_ensemble = Predict(dir, "--ensemble 99", eval, (dir / "x.csv").string());
  CHECK(no_ensemble.status == 2);
  CHECK_THAT(no_ensemble.output, Catch::Contains("no ensemble 99"));
  const auto no_trial = Predict(dir, "--trial 99", eval, (dir / "x.csv").string());
  CHECK(no_trial.status == 2);
  CHECK_THAT(no_trial.output, Catch::Contains("no trial 99"));
  const auto neither = Predict(dir, "", eval, (dir / "x.csv").string());
  CHECK(neither.status == 2);
  CHECK_THAT(neither.output, Catch::Contains("--ensemble ID"));

  // An eval folder with one image that is not an image.
  const fs::path broken = dir / "broken_eval";
  fs::create_directories(broken);
  fs::copy(eval, broken, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const CsvTable info = ReadCsv((broken / "info.csv").string());
  const fs::path bad = broken / "images" / info.rows[2][0];
  std::ofstream(bad, std::ios::trunc) << "not an image";
  const auto unreadable = Predict(dir, "--trial 0", broken.string(), (dir / "x.csv").string());
  CHECK(unreadable.status == 2);
  CHECK_THAT(unreadable.output, Catch::Contains(bad.filename().string()));

  // A member whose checkpoint is gone (moved away, then back).
  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto trials = store->Trials(store->FindStudy("pred")->id);
  const std::string checkpoint = ArtifactOf(*store, trials[1], "checkpoint");
  REQUIRE(!checkpoint.empty());
  fs::rename(checkpoint, checkpoint + ".away");
  const auto deleted = Predict(dir, "--trial 1", eval, (dir / "x.csv").string());
  fs::rename(checkpoint + ".away", checkpoint);
  CHECK(deleted.status == 2);
  CHECK_THAT(deleted.output, Catch::Contains("trial 1: its checkpoint " + checkpoint));
  CHECK_THAT(deleted.output, Catch::Contains("retention"));
}

TEST_CASE(
    "k-fold trials of every backbone family and head are predicted and exported as they "
    "predicted their eval images",
    "[e2e][predict][export][torch]") {
  // Two folds each: a bottleneck ResNet with the multitask head and a centre crop, EfficientNet
  // (squeeze-and-excitation) with hflip, and the custom CNN without BatchNorm.
  const fs::path dir = RunGeneratedStudy("predict_folds", 12, 4, 13, R"(study: folds
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [24, 30], split: {folds: 2, seed: 4}}
budget: {trials: 3, epochs: 1}
sampler: {type: random, seed: 5}
enqueue:
  - {backbone: resnet50, head: multitask, center_crop: 0.875, tta: none, norm: batch}
  - {backbone: efficientnet_b0, head: single, center_crop: 1.0, tta: hflip, norm: batch}
  - {backbone: custom_cnn, head: single, center_crop: 1.0, tta: none, norm: none}
space:
  backbone: {choice: [resnet50, efficientnet_b0, custom_cnn]}
  head: {choice: [single, multitask]}
  center_crop: {choice: [1.0, 0.875]}
  tta: {choice: [none, hflip]}
  norm: {choice: [batch, none]}
  lr: 0.01
  batch_size: 16
ensemble: {method: weights, candidates: 3}
)");
  const std::string study = (dir / "study.yaml").string();
  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto trials = store->Trials(store->FindStudy("folds")->id);
  REQUIRE(trials.size() == 3);
  const std::string eval = (dir / "data/eval").string();
  for (const auto& trial : trials) {
    INFO("trial " << trial.number << " " << trial.params.dump());
    REQUIRE(trial.state == TrialState::kComplete);
    REQUIRE(!ArtifactOf(*store, trial, "checkpoint_fold2").empty());
    const std::string n = std::to_string(trial.number);
    const fs::path out = dir / ("trial" + n + ".csv");
    const auto one = Predict(dir, "--trial " + n, eval, out.string(),
                             " --save-inputs " + (dir / "inputs.npy").string());
    INFO(one.output);
    REQUIRE(one.status == 0);
    const fs::path probs = fs::path(out).replace_extension(".npy");
    CHECK(MaxAbsDifference(ReadNpy(probs.string()),
                           ReadNpy(ArtifactOf(*store, trial, "eval_probs"))) < 1e-5);
    const fs::path model = dir / ("trial" + n + ".pt");
    const auto exported =
        RunCommand(Ensweep() + " export " + study + " --trial " + n + " -o " + model.string());
    INFO(exported.output);
    REQUIRE(exported.status == 0);
    PythonCheck("inputs " + model.string() + " " + (dir / "inputs.npy").string() + " " +
                probs.string());
  }
}
