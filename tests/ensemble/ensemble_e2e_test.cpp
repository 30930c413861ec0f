// End to end through the real binary: a small seeded sweep on generated data, then
// `ensweep ensemble` with each method, its records, and the policy for missing predictions.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "../e2e/e2e_util.h"
#include "core/csv.h"
#include "core/npy.h"
#include "core/store.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// 24 generated persons, 6 trials of 2 epochs on 32x40 images: a few seconds on 2 cores.
fs::path SweptStudy() {
  return RunGeneratedStudy("ensemble", 24, 6, 3, R"(study: ens
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [32, 40], split: {seed: 1}}
budget: {trials: 6, epochs: 2}
sampler: {type: random, seed: 4}
space:
  backbone: {choice: [custom_cnn, resnet18]}
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  batch_size: 16
ensemble: {method: greedy, candidates: 10, seed: 5}
)");
}

// Step 1: greedy (the study's method) with --format probs: output, submission, probabilities,
// record. Returns the record.
EnsembleRecord CheckGreedyEnsemble(const fs::path& dir, const std::string& study) {
  const fs::path submission = dir / "greedy.csv";
  const auto greedy = RunCommand(Ensweep() + " ensemble " + study + " --out " +
                                 submission.string() + " --format probs");
  INFO(greedy.output);
  REQUIRE(greedy.status == 0);
  CHECK_THAT(greedy.output, Catch::Contains("ensemble (greedy)"));
  CHECK_THAT(greedy.output, Catch::Contains("honest_macro_f1"));
  CHECK_THAT(greedy.output, Catch::Contains("best single (trial"));
  CHECK(fs::exists(dir / "greedy.eval_probs.npy"));
  CHECK(fs::exists(dir / "greedy.val_probs.npy"));

  // The submission follows info.csv row by row.
  const CsvTable info = ReadCsv((dir / "data/eval/info.csv").string());
  const CsvTable written = ReadCsv(submission.string());
  REQUIRE(written.rows.size() == info.rows.size());
  for (size_t r = 0; r < info.rows.size(); ++r) CHECK(written.rows[r][0] == info.rows[r][0]);
  CHECK(ReadNpy((dir / "greedy.eval_probs.npy").string()).rows ==
        static_cast<int64_t>(info.rows.size()));

  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto id = store->FindStudy("ens")->id;
  const auto ensembles = store->Ensembles(id);
  REQUIRE(ensembles.size() == 1);
  const auto& record = ensembles[0];
  CHECK(record.method == "greedy");
  CHECK(record.settings["rounds"] == 25);
  CHECK(record.submission_path == fs::absolute(submission).string());
  REQUIRE(!record.member_numbers.empty());
  double total = 0;
  for (double w : record.weights) total += w;
  CHECK(total == Approx(1.0));
  for (const char* key : {"val_macro_f1", "honest_macro_f1", "eval_macro_f1",
                          "best_single_eval_macro_f1", "best_single_honest_macro_f1"}) {
    INFO(key);
    CHECK(record.metrics.contains(key));
  }
  // The recorded eval score is the submission's, as `ensweep score` computes it from the labels.
  // (Whether the ensemble beats the best single trial on eval is not a property of a sweep this
  // small: its trials barely learn, and greedy selection on a few dozen validation images may
  // overfit them, which the honest estimate reports. Selection guarantees the in-sample score.)
  const auto score = RunCommand(Ensweep() + " score " + submission.string() + " --labels " +
                                (dir / "data/eval_labels.csv").string() + " --format json");
  INFO(score.output);
  REQUIRE(score.status == 0);
  const auto scored = nlohmann::json::parse(score.output.substr(0, score.output.rfind('}') + 1));
  CHECK(record.metrics["eval_macro_f1"].get<double>() ==
        Approx(scored["macro_f1"].get<double>()).margin(1e-9));
  CHECK(record.metrics["val_macro_f1"].get<double>() >=
        record.metrics["best_single_val_macro_f1"].get<double>());

  return record;
}

// Step 2: the other methods, and one candidate per configuration family.
void CheckOtherMethods(const Store& store, int64_t id, const std::string& study) {
  // The other methods, and the records' list and detail views.
  for (const std::string method : {"weights", "uniform"}) {
    const auto other = RunCommand(Ensweep() + " ensemble " + study + " --method " + method);
    INFO(other.output);
    CHECK(other.status == 0);
  }
  // One candidate per configuration family (here: per backbone), recorded with the ensemble.
  const auto family = RunCommand(Ensweep() + " ensemble " + study + " --one-per backbone");
  INFO(family.output);
  REQUIRE(family.status == 0);
  CHECK_THAT(family.output, Catch::Contains("one per backbone"));
  const auto by_family = store.Ensembles(id).back();
  CHECK(by_family.settings["one_per"] == Json::array({"backbone"}));
  CHECK(by_family.settings["tta"] == "none");
  std::set<std::string> backbones;
  for (const auto& number : by_family.settings["candidate_trials"]) {
    backbones.insert(store.FindTrial(id, number.get<int64_t>())->params["backbone"]);
  }
  CHECK(backbones.size() == by_family.settings["candidate_trials"].size());
  CHECK(by_family.settings["honest_pool_trials"].get<int64_t>() >=
        static_cast<int64_t>(backbones.size()));
}

// Step 3: the records' list and detail views.
void CheckListAndShow(const std::string& study, const EnsembleRecord& first) {
  const auto list = RunCommand(Ensweep() + " ensemble " + study + " --list");
  REQUIRE(list.status == 0);
  CHECK(Lines(list.output).size() == 5);
  CHECK_THAT(list.output, Catch::Contains("weights"));
  const auto show = RunCommand(Ensweep() + " ensemble " + study + " --show 1");
  REQUIRE(show.status == 0);
  CHECK_THAT(show.output, Catch::Contains("honest_macro_f1"));
  CHECK_THAT(show.output, Catch::Contains(std::to_string(first.member_numbers[0])));
  CHECK(RunCommand(Ensweep() + " ensemble " + study + " --show 99").status == 2);
}

// Step 4: hflip TTA.
void CheckTta(const Store& store, int64_t id, const std::string& study) {
  // hflip TTA: every candidate combined with its flipped view when the trials recorded one, and
  // otherwise an error naming a trial and the missing view.
  bool has_views = true;
  for (const auto& t : store.TopTrials(id, true, 0)) {
    bool found = false;
    for (const auto& a : store.Artifacts(t.id)) found = found || a.kind == "val_probs_hflip";
    has_views = has_views && found;
  }
  const auto tta = RunCommand(Ensweep() + " ensemble " + study + " --tta hflip");
  INFO(tta.output);
  if (has_views) {
    REQUIRE(tta.status == 0);
    CHECK_THAT(tta.output, Catch::Contains("hflip TTA"));
    CHECK(store.Ensembles(id).back().settings["tta"] == "hflip");
  } else {
    CHECK(tta.status == 2);
    CHECK_THAT(tta.output, Catch::Contains("val_probs_hflip"));
    CHECK_THAT(tta.output, Catch::Contains("trial "));
  }
}

// Step 5: a bad family list in a study file, and candidates whose predictions are gone.
void CheckBadInput(const Store& store, int64_t id, const fs::path& dir, const std::string& study) {
  // A bad family list in the study file: file, line and key path, exit status 2.
  std::ofstream(dir / "bad.yaml") << "study: ens\nstorage: runs/store.sqlite\n"
                                     "data: {train: data/train}\n"
                                     "ensemble:\n  one_per: backbone\n";
  const auto bad = RunCommand(Ensweep() + " ensemble " + (dir / "bad.yaml").string());
  CHECK(bad.status == 2);
  CHECK_THAT(bad.output, Catch::Contains("bad.yaml:5: 'ensemble.one_per'"));

  // A candidate whose predictions are gone is an error naming it, unless --skip-missing.
  const auto pool = store.TopTrials(id, true, 0);
  const auto& last = pool.back();
  for (const auto& a : store.Artifacts(last.id)) {
    if (a.kind == "val_probs") std::ofstream(a.path, std::ios::trunc) << "not numpy";
  }
  const std::string who = "trial " + std::to_string(last.number);
  const auto missing = RunCommand(Ensweep() + " ensemble " + study);
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains(who));
  const auto skipped = RunCommand(Ensweep() + " ensemble " + study + " --skip-missing");
  INFO(skipped.output);
  CHECK(skipped.status == 0);
  CHECK_THAT(skipped.output, Catch::Contains("skipped " + who));
}

}  // namespace

TEST_CASE(
    "the greedy ensemble of a seeded sweep is stored with members, weights and its eval score",
    "[e2e][ensemble][torch]") {
  const fs::path dir = SweptStudy();
  const std::string study = (dir / "study.yaml").string();
  const EnsembleRecord first = CheckGreedyEnsemble(dir, study);
  const auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const int64_t id = store->FindStudy("ens")->id;
  CheckOtherMethods(*store, id, study);
  CheckListAndShow(study, first);
  CheckTta(*store, id, study);
  CheckBadInput(*store, id, dir, study);
}

TEST_CASE("trials trained with k folds are ensembled on every training image, out of fold",
          "[e2e][ensemble][torch]") {
  const fs::path dir = FreshDir("ensemble_folds");
  GenerateMaskData(dir, 18, 4, 6);
  int64_t train_images = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "data/train/images")) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
      ++train_images;
    }
  }
  REQUIRE(train_images == 18 * 7);
  std::ofstream(dir / "study.yaml") << R"(study: folds
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [32, 40], split: {folds: 3, seed: 2}}
budget: {trials: 3, epochs: 1}
sampler: {type: random, seed: 7}
space:
  backbone: custom_cnn
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  batch_size: 16
ensemble: {method: greedy, candidates: 3, seed: 8}
)";
  const std::string study = (dir / "study.yaml").string();
  const auto run = RunCommand(Ensweep() + " run " + study + " --workers 2 --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);

  const fs::path submission = dir / "folds.csv";
  const auto built = RunCommand(Ensweep() + " ensemble " + study + " --out " + submission.string() +
                                " --format probs");
  INFO(built.output);
  REQUIRE(built.status == 0);
  CHECK_THAT(built.output, Catch::Contains("selected on " + std::to_string(train_images) +
                                           " validation images out of fold (3-fold trials"));
  CHECK_THAT(built.output, Catch::Contains("honest_macro_f1"));
  // The blended validation probabilities have one row per training image; the submission one
  // per eval image, in info.csv's order.
  CHECK(ReadNpy((dir / "folds.val_probs.npy").string()).rows == train_images);
  const CsvTable info = ReadCsv((dir / "data/eval/info.csv").string());
  const CsvTable written = ReadCsv(submission.string());
  REQUIRE(written.rows.size() == info.rows.size());
  for (size_t r = 0; r < info.rows.size(); ++r) CHECK(written.rows[r][0] == info.rows[r][0]);

  auto store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto record = store->Ensembles(store->FindStudy("folds")->id).back();
  CHECK(record.settings["folds"] == 3);
  CHECK(record.settings["validation_rows"] == train_images);
  CHECK(record.metrics.contains("honest_macro_f1"));
  CHECK(record.metrics.contains("eval_macro_f1"));
}
