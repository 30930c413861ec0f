// The ensemble pipeline (ensemble/pipeline.h) on a hand-built store: trials with written
// prediction files, a competition-layout eval folder and its hidden labels. Checks the outcome the
// command prints and what it records, without the command line.
#include "ensemble/pipeline.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/csv.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

constexpr int kPersons = 6, kPhotos = 3, kRows = kPersons * kPhotos, kClasses = 18;
constexpr int kEvalRows = 4;

// rows x kClasses probabilities that put 0.66 on class `predicted(r)` and 0.02 elsewhere.
Matrix Predicting(int rows, const std::function<int(int)>& predicted) {
  Matrix m;
  m.rows = rows;
  m.cols = kClasses;
  m.values.assign(static_cast<size_t>(rows * kClasses), 0.02f);
  for (int r = 0; r < rows; ++r) m.values[static_cast<size_t>(r * kClasses + predicted(r))] = 0.66f;
  return m;
}

// A study in a fresh store with eval data (eval/info.csv, eval_labels.csv beside it: image i has
// class i); trials are added with the predictions a test gives them.
struct EnsembleStudy {
  fs::path dir;
  std::unique_ptr<Store> store;
  int64_t study_id = 0;

  EnsembleStudy(const std::string& name, bool with_eval, const Json& ensemble) {
    dir = test::FreshDir("ensweep_pipeline", name);
    fs::create_directories(dir / "data" / "eval");
    std::ofstream info(dir / "data" / "eval" / "info.csv"),
        labels(dir / "data" / "eval_labels.csv");
    WriteCsvRow(info, {"ImageID", "ans"});
    WriteCsvRow(labels, {"ImageID", "ans"});
    for (int i = 0; i < kEvalRows; ++i) {
      WriteCsvRow(info, {"e" + std::to_string(i) + ".jpg", "0"});
      WriteCsvRow(labels, {"e" + std::to_string(i) + ".jpg", std::to_string(i)});
    }
    store = Store::OpenForWriting((dir / "store.sqlite").string());
    Json doc = {{"study", name},
                {"artifacts", "runs"},
                {"data", {{"train", "data/train"}}},
                {"space", {{"backbone", {{"choice", {"a", "b"}}}}}},
                {"ensemble", ensemble}};
    if (with_eval) doc["data"]["eval"] = "data/eval";
    study_id = store->CreateOrUpdateStudy(ParseStudy(doc, "study.yaml", dir.string()));
  }

  // A COMPLETE trial with objective `value`, its val_probs (one row per validation image: person
  // r / kPhotos, label r % kClasses) and eval_probs; `with_val` false leaves val_probs out.
  void AddTrial(int64_t number, double value, const std::string& backbone, const Matrix& val,
                const Matrix& eval, bool with_val = true) {
    const fs::path trial_dir = dir / ("trial" + std::to_string(number));
    fs::create_directories(trial_dir);
    std::vector<ArtifactRecord> artifacts;
    if (with_val) {
      WriteNpy((trial_dir / "val_probs.npy").string(), val);
      artifacts.push_back(DescribeArtifact("val_probs", (trial_dir / "val_probs.npy").string()));
    }
    WriteNpy((trial_dir / "eval_probs.npy").string(), eval);
    artifacts.push_back(DescribeArtifact("eval_probs", (trial_dir / "eval_probs.npy").string()));
    std::ofstream index(trial_dir / "val_index.csv");
    WriteCsvRow(index, {"row", "path", "person", "label"});
    for (int r = 0; r < kRows; ++r) {
      const std::string person = "p" + std::to_string(r / kPhotos);
      WriteCsvRow(index, {std::to_string(r), "train/" + person + "/" + std::to_string(r) + ".jpg",
                          person, std::to_string(r % kClasses)});
    }
    index.close();
    artifacts.push_back(DescribeArtifact("val_index", (trial_dir / "val_index.csv").string()));
    const int64_t id =
        store->AddTrial(study_id, number, TrialState::kRunning, {{"backbone", backbone}}, 0);
    store->MarkComplete(id, value, {{"val_macro_f1", value}}, artifacts, 1);
  }
};

StudyRecord StudyOf(const EnsembleStudy& s, const std::string& name) {
  return *s.store->FindStudy(name);
}

// Three trials: 0 right on every validation row, 1 wrong on every third row, 2 wrong on the rows
// 1 gets right half the time; all three right on the eval images.
void AddThreeTrials(EnsembleStudy& s) {
  const Matrix eval = Predicting(kEvalRows, [](int r) { return r; });
  s.AddTrial(0, 0.9, "a", Predicting(kRows, [](int r) { return r % kClasses; }), eval);
  s.AddTrial(
      1, 0.7, "b",
      Predicting(kRows, [](int r) { return r % 3 == 0 ? (r + 1) % kClasses : r % kClasses; }),
      eval);
  s.AddTrial(
      2, 0.5, "b",
      Predicting(kRows, [](int r) { return r % 2 == 0 ? (r + 2) % kClasses : r % kClasses; }),
      eval);
}

}  // namespace

TEST_CASE("the pipeline selects, writes the submission, scores it and records the ensemble",
          "[ensemble][pipeline]") {
  EnsembleStudy s("greedy", true, {{"method", "greedy"}, {"candidates", 10}, {"seed", 3}});
  AddThreeTrials(s);
  EnsembleRequest request;
  request.threads = 2;
  const EnsembleOutcome out = BuildEnsemble(*s.store, StudyOf(s, "greedy"), request);

  CHECK(out.spec.method == EnsembleMethod::kGreedy);
  CHECK(out.skipped.empty());
  CHECK(out.candidates == 3);
  CHECK(out.best_single_trial == 0);
  CHECK(out.validation_rows == kRows);
  CHECK(out.folds == std::set<int>{1});
  REQUIRE_FALSE(out.members.empty());
  double total = 0;
  for (size_t i = 0; i < out.members.size(); ++i) {
    total += out.members[i].weight;
    if (i > 0) CHECK(out.members[i].weight <= out.members[i - 1].weight);
  }
  CHECK(total == Approx(1.0));
  CHECK(out.members[0].trial == 0);
  CHECK(out.members[0].backbone == "a");
  CHECK(out.members[0].alone.accuracy == Approx(1.0));
  // Greedy starts from the best candidate and keeps its best round: never below it in-sample.
  CHECK(out.in_sample.macro_f1 >= out.best_single.macro_f1);
  CHECK(out.best_single.accuracy == Approx(1.0));
  REQUIRE(out.honest.has_value());
  REQUIRE(out.best_single_honest.has_value());
  CHECK(out.honest_pool == 3);

  // The submission: info.csv's rows with ans filled, scored against eval_labels.csv beside eval/.
  REQUIRE_FALSE(out.submission.empty());
  CHECK(fs::path(out.submission).is_absolute());
  CHECK(out.submission_rows == kEvalRows);
  const CsvTable written = ReadCsv(out.submission);
  REQUIRE(written.rows.size() == static_cast<size_t>(kEvalRows));
  for (int i = 0; i < kEvalRows; ++i) CHECK(written.rows[i][1] == std::to_string(i));
  REQUIRE(out.eval.has_value());
  CHECK(out.eval->labels == (s.dir / "data" / "eval_labels.csv").string());
  CHECK(out.eval->ensemble.accuracy == Approx(1.0));
  CHECK(out.probs_stem.empty());

  // What was recorded is what the outcome reports.
  const auto recorded = s.store->Ensembles(s.study_id);
  REQUIRE(recorded.size() == 1);
  CHECK(recorded[0].id == out.record.id);
  CHECK(recorded[0].member_numbers == out.record.member_numbers);
  CHECK(recorded[0].submission_path == out.submission);
  CHECK(recorded[0].metrics["val_macro_f1"].get<double>() == Approx(out.in_sample.macro_f1));
  CHECK(recorded[0].metrics["eval_macro_f1"].get<double>() == Approx(out.eval->ensemble.macro_f1));
  CHECK(recorded[0].settings["candidate_trials"] == Json({0, 1, 2}));
  CHECK(recorded[0].settings["rounds"] == 25);
}

TEST_CASE("the pipeline's request overrides the study, and skipped trials are reported",
          "[ensemble][pipeline]") {
  EnsembleStudy s("uniform", false, {{"method", "greedy"}});
  AddThreeTrials(s);
  const Matrix eval = Predicting(kEvalRows, [](int r) { return r; });
  s.AddTrial(3, 0.95, "a", Matrix{}, eval, /*with_val=*/false);
  EnsembleRequest request;
  request.method = "uniform";
  request.size = 2;

  CHECK_THROWS_WITH(BuildEnsemble(*s.store, StudyOf(s, "uniform"), request),
                    Catch::Contains("trial 3"));
  request.skip_missing = true;
  const EnsembleOutcome out = BuildEnsemble(*s.store, StudyOf(s, "uniform"), request);
  CHECK(out.spec.method == EnsembleMethod::kUniform);
  REQUIRE(out.skipped.size() == 1);
  CHECK_THAT(out.skipped[0], Catch::StartsWith("trial 3"));
  CHECK(out.candidates == 3);
  REQUIRE(out.members.size() == 2);
  CHECK(out.members[0].weight == Approx(0.5));
  CHECK(out.record.settings["size"] == 2);
  CHECK(out.record.settings["skipped"].size() == 1);
  // No eval data: nothing written, still recorded.
  CHECK(out.submission.empty());
  CHECK_FALSE(out.eval.has_value());
  CHECK(s.store->Ensembles(s.study_id).size() == 1);

  request.one_per = "backbone,lr";
  CHECK_THROWS_AS(BuildEnsemble(*s.store, StudyOf(s, "uniform"), request), UserError);
  request.one_per = "backbone";
  const EnsembleOutcome one_per = BuildEnsemble(*s.store, StudyOf(s, "uniform"), request);
  CHECK(one_per.family_keys == std::vector<std::string>{"backbone"});
  // The best of family a is trial 3 (skipped), of family b trial 1.
  CHECK(one_per.candidates == 1);
  CHECK(one_per.best_single_trial == 1);
}
