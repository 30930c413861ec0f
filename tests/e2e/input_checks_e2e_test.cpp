// End to end: the numbers on the command lines of datagen, ensemble, top and show, and the files
// `ensweep score` reads, are checked before anything runs: a negative, zero or absurd value, a
// labels file with no rows or a repeated image exits with status 2 and says what was expected.
// Uses a built-in objective, so no LibTorch is involved.
#include <sstream>

#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// A finished curve study of 2 quick trials in dir (store in dir/runs/store.sqlite).
fs::path FinishedStudy(const fs::path& dir) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: numbers\n"
                       << "storage: runs/store.sqlite\n"
                       << "artifacts: runs/artifacts\n"
                       << "trainer: {type: curve, epoch_time: 0.01s, noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: 2, epochs: 2}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  const auto run = RunCommand(Ensweep() + " run " + study.string() + " --workers 1 -q");
  INFO(run.output);
  REQUIRE(run.status == 0);
  return study;
}

// Runs `ensweep <args>` and requires status 2 with `expected` in the output.
void RequireRefused(const std::string& args, const std::string& expected) {
  const auto result = RunCommand(Ensweep() + " " + args);
  INFO("ensweep " << args << "\n" << result.output);
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains(expected));
}

}  // namespace

TEST_CASE("datagen refuses negative, zero and absurd counts and sizes, saying the range",
          "[e2e][cli]") {
  const fs::path dir = FreshDir("datagen_numbers");
  const std::string out = " --out " + (dir / "data").string();
  const std::string people = "must be a whole number between 1 and 999999";
  RequireRefused("datagen" + out + " --eval-people -1", "--eval-people: " + people + ", got '-1'");
  RequireRefused("datagen" + out + " --eval-people 0", "--eval-people: " + people);
  RequireRefused("datagen" + out + " --eval-people 1000000", "--eval-people: " + people);
  RequireRefused("datagen" + out + " --people -3", "--people: " + people);
  RequireRefused("datagen" + out + " --people 0", "--people: " + people);
  RequireRefused("datagen" + out + " --people 99999999999", "--people: " + people);
  const std::string sides = "--image-size: width and height must each be between 16 and 8192";
  RequireRefused("datagen" + out + " --image-size 0x0", sides);
  RequireRefused("datagen" + out + " --image-size 99999999999x64", sides);
  RequireRefused("datagen" + out + " --image-size 64x9000", sides);
  RequireRefused("datagen" + out + " --image-size -64x64", "expected WIDTHxHEIGHT");
  RequireRefused("datagen" + out + " --label-noise -0.1",
                 "--label-noise: must be a fraction in [0, 1)");
  RequireRefused("datagen" + out + " --label-noise 1",
                 "--label-noise: must be a fraction in [0, 1)");
  RequireRefused("datagen" + out + " --label-noise nan",
                 "--label-noise: must be a fraction in [0, 1)");
  RequireRefused("datagen" + out + " --seed -1", "--seed: must be a whole number between 0 and");
  CHECK_FALSE(fs::exists(dir / "data"));

  // In range, the counts are used as given.
  const auto good = RunCommand(Ensweep() + " datagen" + out +
                               " --people 2 --eval-people 1 --image-size 16x16 --seed 7");
  INFO(good.output);
  REQUIRE(good.status == 0);
  CHECK_THAT(good.output, Catch::Contains("2 training persons (14 images), 7 eval images"));
}

TEST_CASE("ensemble refuses a negative --show instead of building a new ensemble, and bad counts",
          "[e2e][cli]") {
  const fs::path dir = FreshDir("ensemble_numbers");
  const std::string study = FinishedStudy(dir).string();
  RequireRefused("ensemble " + study + " --show -5",
                 "--show: must be a whole number >= 1, got '-5'");
  RequireRefused("ensemble " + study + " --show 0", "--show: must be a whole number >= 1");
  RequireRefused("ensemble " + study + " --show 1", "has no ensemble 1");
  RequireRefused("ensemble " + study + " --list --show 1", "--list excludes --show");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"-k 0", "--size: must be a whole number between 1 and 100000"},
      {"--candidates -2", "--candidates: must be a whole number between 1 and 100000"},
      {"--rounds 0", "--rounds: must be a whole number between 1 and 100000"},
      {"--rounds 2000000000", "--rounds: must be a whole number between 1 and 100000"},
      {"--init -1", "--init: must be a whole number between 1 and 100000"},
      {"--bags 0", "--bags: must be a whole number between 1 and 10000"},
      {"--bags 99999999999", "--bags: must be a whole number between 1 and 10000"},
      {"--bag-fraction 0", "--bag-fraction: must be a fraction in (0, 1]"},
      {"--bag-fraction nan", "--bag-fraction: must be a fraction in (0, 1]"},
      {"--bag-fraction 1.5", "--bag-fraction: must be a fraction in (0, 1]"},
      {"--top-n -1", "--top-n: must be a whole number between 0 and 100000"},
      {"--threads -1", "--threads: must be a whole number between 0 and 1024"},
      {"--threads 1000000", "--threads: must be a whole number between 0 and 1024"},
      {"--seed -1", "--seed: must be a whole number >= 0"},
  };
  for (const auto& [args, expected] : bad)
    RequireRefused("ensemble " + study + " " + args, expected);
  // Nothing was recorded: no refused command built an ensemble.
  const StoredStudy stored = ReadStudy(dir, "numbers");
  CHECK(stored.store->Ensembles(stored.id).empty());
}

TEST_CASE("top and show refuse negative and absurd numbers", "[e2e][cli]") {
  const fs::path dir = FreshDir("view_numbers");
  const std::string study = FinishedStudy(dir).string();
  RequireRefused("top " + study + " -k -1", "--limit: must be a whole number between 0 and");
  RequireRefused("top " + study + " -k 99999999999", "--limit: must be a whole number between 0");
  RequireRefused("show " + study + " -5", "--trial: must be a whole number >= 0, got '-5'");
  RequireRefused("show " + study + " --trial -5", "--trial: must be a whole number >= 0");
  RequireRefused("show " + study + " 99999999999999999999", "--trial: must be a whole number >= 0");
  const std::string db = (dir / "runs/store.sqlite").string();
  RequireRefused("show --db " + db + " 99999999999999999999",
                 "no trial numbered 99999999999999999999");
  const auto shown = RunCommand(Ensweep() + " show --db " + db + " 1");
  INFO(shown.output);
  CHECK(shown.status == 0);
  CHECK_THAT(shown.output, Catch::Contains("trial 1: COMPLETE"));
}

TEST_CASE(
    "score averages macro F1 over the classes present, as scikit-learn, and refuses bad files",
    "[e2e][score]") {
  const fs::path dir = FreshDir("score_files");
  std::ostringstream labels;
  labels << "ImageID,ans\n";
  for (int i = 0; i < 24; ++i) labels << "img" << i << ".jpg," << i % 12 << "\n";
  std::ofstream(dir / "labels.csv") << labels.str();
  std::ofstream(dir / "perfect.csv") << labels.str();
  const std::string perfect = (dir / "perfect.csv").string();
  const std::string labels_path = (dir / "labels.csv").string();
  // A perfect submission of a 12-class labels file scores 1 (not 12 / 18).
  const auto scored = RunCommand(Ensweep() + " score " + perfect + " --labels " + labels_path);
  INFO(scored.output);
  REQUIRE(scored.status == 0);
  CHECK_THAT(scored.output, Catch::Contains("macro F1  1.0000"));

  std::ofstream(dir / "empty.csv") << "ImageID,ans\n";
  RequireRefused("score " + perfect + " --labels " + (dir / "empty.csv").string(),
                 "empty.csv: no labelled rows");
  std::ofstream(dir / "twice.csv") << labels.str() << "img3.jpg,3\n";
  RequireRefused("score " + perfect + " --labels " + (dir / "twice.csv").string(),
                 "twice.csv:26: ImageID img3.jpg is already labelled at line 5");
  std::ofstream(dir / "repeated.csv") << labels.str() << "img3.jpg,3\n";
  RequireRefused("score " + (dir / "repeated.csv").string() + " --labels " + labels_path,
                 "repeated.csv:26: ImageID img3.jpg appears twice (first at line 5)");
  std::ofstream(dir / "partial.csv") << "ImageID,ans\nimg0.jpg,0\n";
  RequireRefused("score " + (dir / "partial.csv").string() + " --labels " + labels_path,
                 "no prediction for 23 labelled images");
  const auto help = RunCommand(Ensweep() + " score --help");
  CHECK_THAT(help.output, Catch::Contains("labelled images without a row"));
}

TEST_CASE("run refuses a torch study with a misspelt or out-of-range parameter before any work",
          "[e2e][cli][study]") {
  const fs::path dir = FreshDir("trial_param_checks");
  const auto write = [&](const std::string& name, const std::string& space) {
    const fs::path study = dir / name;
    std::ofstream(study) << "study: params\n"
                         << "storage: runs/store.sqlite\n"
                         << "data: {train: data/train}\n"
                         << "budget: {trials: 2, epochs: 1}\n"
                         << "space:\n"
                         << "  batch_size: 32\n"
                         << space;
    return study.string();
  };
  RequireRefused("run " + write("typo.yaml", "  leraning_rate: {log_uniform: [1.0e-4, 0.1]}\n"),
                 "typo.yaml:7: 'space.leraning_rate': space key 'leraning_rate' is not a "
                 "parameter of the torch trainer (did you mean 'lr'?)");
  RequireRefused("run " + write("range.yaml", "  flip_p: {uniform: [0.0, 1.5]}\n"),
                 "range.yaml:7: 'space.flip_p.uniform[1]': 1.5 is not a valid value of the torch "
                 "trainer's parameter 'flip_p': expected a number in [0, 1]");
  // Refused at load: no store was made, no trial ran.
  CHECK_FALSE(fs::exists(dir / "runs/store.sqlite"));
}

TEST_CASE("a key without effect for the chosen method loads with a warning naming its line",
          "[e2e][cli][study]") {
  const fs::path dir = FreshDir("ineffective_keys");
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: warned\n"
                       << "storage: runs/store.sqlite\n"
                       << "trainer: {type: curve}\n"
                       << "budget: {trials: 1, epochs: 1}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n"
                       << "ensemble: {method: greedy, size: 3}\n";
  const auto run = RunCommand(Ensweep() + " run " + study.string() + " --workers 1 -q");
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("study.yaml:7: warning: 'ensemble.size': has no effect: "
                                         "only the uniform method reads it"));
}

TEST_CASE(
    "run refuses a study whose trials need more slots than the run has workers, and runs "
    "one whose gangs fit",
    "[e2e][cli][study][gang]") {
  const fs::path dir = FreshDir("slots_per_trial");
  const auto write = [&](const std::string& name, const std::string& resources,
                         const std::string& space) {
    const fs::path study = dir / name;
    std::ofstream(study) << "study: slots\n"
                         << "storage: runs/store.sqlite\n"
                         << "trainer: {type: curve, epoch_time: 0.01s, noise: 0.01}\n"
                         << "objective: {metric: val_accuracy, direction: maximize}\n"
                         << "budget: {trials: 6, epochs: 2}\n"
                         << "sampler: {seed: 4}\n"
                         << resources << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n"
                         << space;
    return study.string();
  };
  RequireRefused(
      "run " + write("three.yaml", "resources: {slots_per_trial: 3}\n", "") + " --workers 2 -q",
      "'slots_per_trial': a trial may ask for 3 slots (workers that train it together), "
      "but this run has 2 workers (--workers)");
  const std::string mixed = write("mixed.yaml", "", "  slots_per_trial: {choice: [1, 2]}\n");
  RequireRefused("run " + mixed + " --workers 1 -q", "a trial may ask for 2 slots");
  CHECK_FALSE(fs::exists(dir / "runs/store.sqlite"));  // refused before anything was made

  // With two workers the same study runs every trial, 2-slot ones on both workers.
  const auto run = RunCommand(Ensweep() + " run " + mixed + " --workers 2 -q");
  INFO(run.output);
  REQUIRE(run.status == 0);
  int gangs = 0;
  for (int trial = 0; trial < 6; ++trial) {
    const auto show =
        RunCommand(Ensweep() + " show " + mixed + " " + std::to_string(trial) + " -f json");
    INFO(show.output);
    REQUIRE(show.status == 0);
    const nlohmann::json j = nlohmann::json::parse(show.output);
    CHECK(j["state"] == "COMPLETE");
    if (j["slots"] == 2) {
      ++gangs;
      CHECK_THAT(j["worker"].get<std::string>(),
                 Catch::Contains("local-1") && Catch::Contains("local-2"));
    }
  }
  CHECK(gangs > 0);
}
