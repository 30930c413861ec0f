// `ensweep audit` through the real binary: its refusals; on generated data with 10% of the persons
// mislabelled, the suspects of a k-fold sweep, excluded with data.exclude in a rerun; and --leak.
#include <nlohmann/json.hpp>
#include <set>

#include "core/csv.h"
#include "core/data_edits.h"
#include "core/mask_layout.h"
#include "tests/e2e/e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

void WriteText(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// A torch study on dir/data: one trial of a fixed custom_cnn recipe, `folds` folds, `extra` lines
// appended to the data block.
std::string TorchStudy(const std::string& name, int folds, const std::string& extra = "") {
  return "study: " + name + "\nstorage: runs/" + name + ".sqlite\nartifacts: runs/" + name +
         "\ndata:\n  train: data/train\n  eval: data/eval\n  image_size: [40, 48]\n"
         "  split: {by: person, folds: " +
         std::to_string(folds) + ", seed: 0}\n" + extra +
         "budget: {trials: 1, epochs: 10}\n"
         "space: {backbone: custom_cnn, head: multitask, optimizer: sgd, momentum: 0.9, "
         "lr: 0.03, schedule: cosine, weight_decay: 0.0005, flip_p: 0.5, batch_size: 32}\n";
}

// Runs the study and scores its one trial's eval predictions against the hidden labels.
double EvalMacroF1(const fs::path& dir, const std::string& name) {
  const fs::path study = dir / (name + ".yaml");
  const auto run = RunCommand(Ensweep() + " run " + study.string() + " --workers 1 --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  const fs::path submission = dir / (name + "_submission.csv");
  const auto ensemble = RunCommand(Ensweep() + " ensemble " + study.string() +
                                   " -m uniform -k 1 --out " + submission.string());
  INFO(ensemble.output);
  REQUIRE(ensemble.status == 0);
  const auto score = RunCommand(Ensweep() + " score " + submission.string() + " --labels " +
                                (dir / "data" / "eval_labels.csv").string() + " -f json");
  INFO(score.output);
  REQUIRE(score.status == 0);
  return nlohmann::json::parse(score.output)["macro_f1"].get<double>();
}

}  // namespace

TEST_CASE("audit refuses a missing study file, a study never run and a hold-out split, status 2",
          "[e2e][audit]") {
  const fs::path dir = FreshDir("audit_refusals");
  const auto missing = RunCommand(Ensweep() + " audit " + (dir / "none.yaml").string() + " -o " +
                                  (dir / "out").string());
  CHECK(missing.status == 2);
  fs::create_directories(dir / "data" / "train");
  WriteText(dir / "holdout.yaml",
            "study: holdout\nstorage: runs/h.sqlite\ntrainer: {type: curve}\n"
            "data: {train: data/train, split: {folds: 1}}\n"
            "budget: {trials: 1, epochs: 1}\nspace: {x: {uniform: [0, 1]}}\n");
  const auto never = RunCommand(Ensweep() + " audit " + (dir / "holdout.yaml").string() + " -o " +
                                (dir / "out").string());
  CHECK(never.status == 2);
  CHECK_THAT(never.output, Catch::Contains("no store yet"));
  const auto run = RunCommand(Ensweep() + " run " + (dir / "holdout.yaml").string());
  INFO(run.output);
  REQUIRE(run.status == 0);
  const auto holdout = RunCommand(Ensweep() + " audit " + (dir / "holdout.yaml").string() + " -o " +
                                  (dir / "out").string());
  CHECK(holdout.status == 2);
  CHECK_THAT(holdout.output, Catch::Contains("hold-out split") && Catch::Contains("folds >= 2"));
  CHECK_FALSE(fs::exists(dir / "out" / "suspects.csv"));
}

// The persons datagen gave a wrong value of `field` (its train_label_noise.csv).
std::set<std::string> InjectedErrors(const fs::path& data, const std::string& field) {
  const CsvTable noise = ReadCsv((data / "train_label_noise.csv").string());
  std::set<std::string> persons;
  for (const auto& row : noise.rows) {
    const int given = std::stoi(row[noise.Column("given_label")]);
    const int truth = std::stoi(row[noise.Column("true_label")]);
    if (MaskFieldOf(given, field) == MaskFieldOf(truth, field)) continue;
    const fs::path path = row[noise.Column("path")];
    persons.insert(path.parent_path().filename().string());
  }
  return persons;
}

// The user's loop of README "Finding wrong labels" on generated data with 10% of the persons
// mislabelled (half of them a wrong gender, half an age in a wrong band): a k-fold run, the audit,
// the gender suspects (the field the models predict well) written with --fields, excluded, and the
// recipe run again. Asserted: the suspects are mostly the injected errors and the rerun trains
// without them. Not asserted: the direction of the eval score's change, which at this scale is
// within the spread of reruns even with every injected error removed (bench/audit/README.md
// measures it at a larger scale over three seeds).
TEST_CASE(
    "the audit's gender suspects on data with 10% wrong labels are mostly the injected errors, "
    "and a rerun with data.exclude trains without them",
    "[e2e][audit][torch]") {
  const fs::path dir = FreshDir("audit_exclude");
  const auto gen = RunCommand(Ensweep() + " datagen --out " + (dir / "data").string() +
                              " --people 120 --image-size 40x48 --label-noise 0.1 --seed 1");
  INFO(gen.output);
  REQUIRE(gen.status == 0);
  WriteText(dir / "noisy.yaml", TorchStudy("noisy", 3));
  const double before = EvalMacroF1(dir, "noisy");

  const auto audit = RunCommand(Ensweep() + " audit " + (dir / "noisy.yaml").string() + " -o " +
                                (dir / "audit").string());
  INFO(audit.output);
  REQUIRE(audit.status == 0);
  // Every field's line gives the models' accuracy on the given values.
  CHECK_THAT(audit.output, Catch::Contains("gender: ") &&
                               Catch::Contains("the models' accuracy on the given values"));
  CHECK_THAT(ReadFile(dir / "audit" / "index.html"), Catch::Contains("base64,"));

  const auto gender =
      RunCommand(Ensweep() + " audit --fields gender " + (dir / "noisy.yaml").string() + " -o " +
                 (dir / "gender").string());
  INFO(gender.output);
  REQUIRE(gender.status == 0);
  const std::vector<LabelEdit> suspects =
      ReadLabelEdits((dir / "gender" / "suspects.csv").string());
  REQUIRE_FALSE(suspects.empty());
  const std::set<std::string> injected = InjectedErrors(dir / "data", "gender");
  std::set<std::string> flagged;
  int right = 0;
  for (const LabelEdit& edit : suspects) {
    CHECK(edit.field == "gender");
    CHECK(edit.person_level);
    flagged.insert(edit.person);
    right += injected.count(edit.person) ? 1 : 0;
  }
  INFO(right << " of " << suspects.size() << " gender suspects are among the " << injected.size()
             << " injected gender errors");
  CHECK(right * 2 > static_cast<int>(suspects.size()));   // precision above one half
  CHECK(right * 2 >= static_cast<int>(injected.size()));  // recall at least one half

  WriteText(
      dir / "clean.yaml",
      TorchStudy("clean", 3, "  exclude: " + (dir / "gender" / "suspects.csv").string() + "\n"));
  const double after = EvalMacroF1(dir, "clean");
  INFO("eval macro F1 " << before << " with every label, " << after << " without the "
                        << suspects.size() << " gender suspects");
  // The rerun's out-of-fold rows are its training images: none of a suspect's.
  const CsvTable index =
      ReadCsv((dir / "runs" / "clean" / "trial-00000" / "val_index.csv").string());
  const CsvTable all = ReadCsv((dir / "runs" / "noisy" / "trial-00000" / "val_index.csv").string());
  CHECK(all.rows.size() - index.rows.size() == 7 * suspects.size());
  for (const auto& row : index.rows) CHECK(flagged.count(row[index.Column("person")]) == 0);
}

// Generated data has 7 photos a person: an image-level split puts photos of a validation person in
// training too, so its validation score runs ahead of the eval score (new persons) by more than a
// person-level split's does. Seeded data, split and trial, one LibTorch thread.
TEST_CASE(
    "audit --leak trains the best recipe with an image and a person split and the image split's "
    "validation score overstates the eval score by more",
    "[e2e][audit][torch]") {
  const fs::path dir =
      RunGeneratedStudy("audit_leak", 60, 30, 3,
                        "study: leak\nstorage: runs/store.sqlite\nartifacts: runs/artifacts\n"
                        "data:\n  train: data/train\n  eval: data/eval\n  image_size: [24, 32]\n"
                        "  split: {by: person, val_fraction: 0.3, seed: 0}\n"
                        "budget: {trials: 1, epochs: 6}\n"
                        "space: {backbone: custom_cnn, head: multitask, optimizer: sgd, lr: 0.05, "
                        "weight_decay: 0.0005, schedule: cosine}\n");
  const std::string study = (dir / "study.yaml").string();
  const auto leak = RunCommand(Ensweep() + " audit --leak " + study + " --threads 1 -o " +
                               (dir / "leak").string());
  INFO(leak.output);
  REQUIRE(leak.status == 0);
  CHECK_THAT(leak.output, Catch::Contains("by image") && Catch::Contains("by person") &&
                              Catch::Contains("The image split overstates by"));
  const auto scores = nlohmann::json::parse(ReadFile(dir / "leak" / "leak.json"));
  REQUIRE(scores["splits"].size() == 2);
  const auto gap = [&](int i) {
    const auto& s = scores["splits"][i];
    return s["val_macro_f1"].get<double>() - s["eval_macro_f1"].get<double>();
  };
  CHECK(scores["splits"][0]["split"] == "image");
  CHECK(scores["splits"][1]["split"] == "person");
  INFO("validation minus eval macro F1: image split " << gap(0) << ", person split " << gap(1));
  CHECK(gap(0) > gap(1));
  // The person split with the study's own split seed trains trial 0 again: its validation score
  // is the study's.
  const StoredStudy original = ReadStudy(dir, "leak");
  REQUIRE(original.trials.size() == 1);
  CHECK(scores["splits"][1]["val_macro_f1"].get<double>() ==
        Approx(*original.trials[0].value).margin(1e-9));

  // A rerun reuses both trainings (same study files) and prints the same figures.
  const auto again = RunCommand(Ensweep() + " audit --leak " + study + " --threads 1 -o " +
                                (dir / "leak").string());
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(ReadFile(dir / "leak" / "leak.json")) == scores);

  const auto both = RunCommand(Ensweep() + " audit --leak --data " + study);
  CHECK(both.status == 2);
  CHECK_THAT(both.output, Catch::Contains("choose one"));
}
