// Candidates loaded from a store with hand-written prediction artifacts: hflip
// TTA views combined with their trial, missing views, and out-of-fold
// predictions (one row per training image).
#include "ensemble/candidate_loading.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/npy.h"
#include "core/store.h"
#include "ensemble/candidate_stack.h"
#include "ensemble/selection.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// A study in a fresh temporary store; trials are added with whatever artifacts
// a test writes.
struct FakeStudy {
  fs::path dir;
  std::unique_ptr<Store> store;
  int64_t study_id = 0;

  explicit FakeStudy(const std::string& name) {
    dir = test::FreshDir("ensweep_candidates", name);
    store = Store::OpenForWriting((dir / "store.sqlite").string());
    const Json doc = {{"study", name}, {"data", {{"train", "data/train"}}}};
    study_id = store->CreateOrUpdateStudy(ParseStudy(doc, "study.yaml", dir.string()));
  }

  // Writes `files` (kind -> matrix) as <kind>.npy and an index of `persons` x
  // `photos` rows (label: row % cols), then records a COMPLETE trial with them
  // as its artifacts.
  TrialRecord AddTrial(int64_t number, const Json& params,
                       const std::map<std::string, Matrix>& files, int persons, int photos) {
    const fs::path trial_dir = dir / ("trial" + std::to_string(number));
    fs::create_directories(trial_dir);
    std::vector<ArtifactRecord> artifacts;
    for (const auto& [kind, m] : files) {
      const std::string path = (trial_dir / (kind + ".npy")).string();
      WriteNpy(path, m);
      artifacts.push_back({kind, path, 0, ""});
    }
    const std::string index = (trial_dir / "val_index.csv").string();
    std::ofstream out(index);
    out << "row,path,person,label\n";
    const int64_t cols = files.at("val_probs").cols;
    for (int r = 0; r < persons * photos; ++r) {
      out << r << ",train/p" << r / photos << "/img" << r % photos << ".jpg,p" << r / photos << ","
          << r % cols << "\n";
    }
    out.close();
    artifacts.push_back({"val_index", index, 0, ""});
    const int64_t id = store->AddTrial(study_id, number, TrialState::kRunning, params, 0);
    store->MarkComplete(id, 0.5, {}, artifacts, 1);
    return *store->FindTrial(study_id, number);
  }
};

// rows x cols, every entry `value`, except that entry (r, r % cols) gets
// `diagonal`.
Matrix Filled(int64_t rows, int64_t cols, float value, float diagonal) {
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.values.assign(static_cast<size_t>(rows * cols), value);
  for (int64_t r = 0; r < rows; ++r) m.values[static_cast<size_t>(r * cols + r % cols)] = diagonal;
  return m;
}

}  // namespace

TEST_CASE("ensemble tta hflip averages a trial's plain and flipped views, once",
          "[ensemble][tta]") {
  FakeStudy study("tta");
  const Matrix plain = Filled(6, 3, 0.2f, 0.6f), flipped = Filled(6, 3, 0.4f, 0.2f);
  const Matrix eval_plain = Filled(4, 3, 0.1f, 0.8f), eval_flipped = Filled(4, 3, 0.3f, 0.4f);
  const std::map<std::string, Matrix> files = {{"val_probs", plain},
                                               {"val_probs_hflip", flipped},
                                               {"eval_probs", eval_plain},
                                               {"eval_probs_hflip", eval_flipped}};
  const TrialRecord own = study.AddTrial(0, {{"tta", "none"}}, files, 3, 2);
  const TrialRecord already = study.AddTrial(1, {{"tta", "hflip"}}, files, 3, 2);

  const TrialPredictions combined = LoadCandidate(*study.store, own, true, "hflip");
  for (size_t i = 0; i < plain.values.size(); ++i) {
    CHECK(combined.val_probs.values[i] == Approx((plain.values[i] + flipped.values[i]) / 2));
  }
  for (size_t i = 0; i < eval_plain.values.size(); ++i) {
    CHECK(combined.eval_probs->values[i] ==
          Approx((eval_plain.values[i] + eval_flipped.values[i]) / 2));
  }
  // A trial trained with tta: hflip stored the average already: it is used as
  // stored.
  CHECK(LoadCandidate(*study.store, already, true, "hflip").val_probs.values == plain.values);
  CHECK(LoadCandidate(*study.store, already, true, "hflip").eval_probs->values ==
        eval_plain.values);
  // tta: none uses every trial as stored.
  CHECK(LoadCandidate(*study.store, own, true, "none").val_probs.values == plain.values);
  CHECK(LoadCandidate(*study.store, own, true, "none").eval_probs->values == eval_plain.values);
  const LoadedCandidates both = LoadCandidates(*study.store, {own, already}, true, false, "hflip");
  REQUIRE(both.predictions.size() == 2);
  CHECK(both.predictions[0].val_probs.values == combined.val_probs.values);
}

TEST_CASE("a candidate without its hflip view is an error naming it unless skipped",
          "[ensemble][tta]") {
  FakeStudy study("tta_missing");
  const Matrix probs = Filled(4, 3, 0.25f, 0.5f);
  const TrialRecord full =
      study.AddTrial(0, Json::object(), {{"val_probs", probs}, {"val_probs_hflip", probs}}, 2, 2);
  const TrialRecord no_view = study.AddTrial(3, Json::object(), {{"val_probs", probs}}, 2, 2);
  const TrialRecord no_eval_view = study.AddTrial(
      4, Json::object(), {{"val_probs", probs}, {"val_probs_hflip", probs}, {"eval_probs", probs}},
      2, 2);

  try {
    LoadCandidates(*study.store, {full, no_view}, false, false, "hflip");
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("trial 3"));
    CHECK_THAT(e.what(), Catch::Contains("val_probs_hflip"));
    CHECK_THAT(e.what(), Catch::Contains("--skip-missing"));
  }
  CHECK_THROWS_WITH(LoadCandidate(*study.store, no_eval_view, true, "hflip"),
                    Catch::Contains("trial 4") && Catch::Contains("eval_probs_hflip"));
  const LoadedCandidates skipped =
      LoadCandidates(*study.store, {full, no_view, no_eval_view}, false, true, "hflip");
  REQUIRE(skipped.predictions.size() == 1);
  CHECK(skipped.predictions[0].number == 0);
  REQUIRE(skipped.skipped.size() == 2);
  CHECK_THAT(skipped.skipped[0], Catch::StartsWith("trial 3"));
  CHECK_THAT(skipped.skipped[1], Catch::StartsWith("trial 4"));
  // Without TTA the missing views do not matter.
  CHECK(LoadCandidates(*study.store, {full, no_view}, false, false, "none").predictions.size() ==
        2);
}

TEST_CASE(
    "out-of-fold predictions cover every training image and split by "
    "person honestly",
    "[ensemble][oof]") {
  FakeStudy study("oof");
  // folds: 4 over 10 persons x 7 photos: one out-of-fold row per training
  // image.
  const int persons = 10, photos = 7, rows = persons * photos;
  const TrialRecord a = study.AddTrial(
      0, Json::object(), {{"val_probs", Filled(rows, 18, 0.02f, 0.66f)}}, persons, photos);
  const TrialRecord b = study.AddTrial(
      1, Json::object(), {{"val_probs", Filled(rows, 18, 0.058f, 0.014f)}}, persons, photos);
  const LoadedCandidates loaded = LoadCandidates(*study.store, {a, b}, false, false);
  REQUIRE(loaded.predictions.size() == 2);
  CHECK(loaded.predictions[0].val_probs.rows == rows);
  CHECK(loaded.predictions[0].val_persons.size() == static_cast<size_t>(rows));

  const PersonHalves halves = SplitPersonsInHalves(loaded.predictions[0].val_persons, 2);
  CHECK(halves.rows[0].size() + halves.rows[1].size() == static_cast<size_t>(rows));
  std::set<std::string> first, second;
  for (int64_t r : halves.rows[0]) first.insert(loaded.predictions[0].val_persons[r]);
  for (int64_t r : halves.rows[1]) second.insert(loaded.predictions[0].val_persons[r]);
  CHECK(first.size() == 5);
  CHECK(second.size() == 5);
  for (const auto& p : first) CHECK(second.count(p) == 0);
  const CandidateStack stack =
      StackCandidates({&loaded.predictions[0].val_probs, &loaded.predictions[1].val_probs},
                      loaded.predictions[0].val_labels);
  SelectionOptions options;
  options.method = "uniform";
  options.size = 1;
  const HonestEstimate estimate = EstimateHonestly(stack, halves, options);
  CHECK(estimate.weights[0] == std::vector<double>{1.0, 0.0});
  CHECK(estimate.mean.accuracy == 1.0);

  // A hold-out trial (the validation persons only) next to out-of-fold ones: a
  // clear error.
  const TrialRecord holdout = study.AddTrial(
      2, Json::object(), {{"val_probs", Filled(2 * photos, 18, 0.02f, 0.66f)}}, 2, photos);
  try {
    LoadCandidates(*study.store, {a, holdout}, false, true);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("trial 2"));
    CHECK_THAT(e.what(), Catch::Contains("out-of-fold"));
    CHECK_THAT(e.what(), Catch::Contains("folds"));
  }
  // The honest estimate's wider pool leaves such a trial out quietly.
  CHECK(LoadCompatible(*study.store, {b, holdout}, loaded.predictions[0], false, "none").size() ==
        1);
}
