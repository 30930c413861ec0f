// The trial parameters of a study are checked when it loads, against what its trainer reads, and
// keys that the chosen method never reads give a warning with their line.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/study.h"

using namespace ensweep;

namespace {

const char* kTorchHead = "study: params\ndata: {train: data/train}\n";

StudySpec Load(const std::string& text, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> ignored;
  return LoadStudyText(text, "study.yaml", "/tmp", warnings != nullptr ? warnings : &ignored);
}

// The UserError message of loading `text`; fails the test if it loads.
std::string LoadError(const std::string& text) {
  try {
    Load(text);
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError for:\n" << text);
  return "";
}

std::vector<std::string> Warnings(const std::string& text) {
  std::vector<std::string> warnings;
  Load(text, &warnings);
  return warnings;
}

}  // namespace

TEST_CASE("a misspelt space key of a torch study stops the load naming the closest parameter",
          "[core][study][params]") {
  const std::string error = LoadError(std::string(kTorchHead) +
                                      "space:\n  leraning_rate: {log_uniform: [1.0e-4, 0.1]}\n");
  CHECK_THAT(error, Catch::StartsWith("study.yaml:4: 'space.leraning_rate'"));
  CHECK_THAT(error, Catch::Contains("not a parameter of the torch trainer (did you mean 'lr'?)"));
  CHECK_THAT(LoadError(std::string(kTorchHead) + "space:\n  batchsize: 32\n"),
             Catch::Contains("did you mean 'batch_size'?"));
  CHECK_THAT(LoadError(std::string(kTorchHead) + "space:\n  zebra: 1\n"),
             Catch::Contains("'space.zebra'") && !Catch::Contains("did you mean"));
}

TEST_CASE("constants, choices and range ends outside a torch parameter's domain stop the load",
          "[core][study][params]") {
  const auto error = [](const std::string& space) {
    return LoadError(std::string(kTorchHead) + "space:\n" + space);
  };
  CHECK_THAT(error("  momentum: 1.0\n"),
             Catch::Contains("study.yaml:4: 'space.momentum'") && Catch::Contains("[0, 1)"));
  CHECK_THAT(error("  flip_p: {uniform: [0.0, 1.5]}\n"),
             Catch::Contains("'space.flip_p.uniform[1]'") &&
                 Catch::Contains("1.5 is not a valid value") && Catch::Contains("[0, 1]"));
  CHECK_THAT(error("  optimizer: {choice: [sgd, rmsprop]}\n"),
             Catch::Contains("'space.optimizer.choice[1]'") && Catch::Contains("sgd, adam, adamw"));
  CHECK_THAT(error("  batch_size: {int: [0, 64]}\n"),
             Catch::Contains("'space.batch_size.int[0]'") && Catch::Contains("an integer >= 1"));
  CHECK_THAT(error("  batch_size: {uniform: [16, 64]}\n"),
             Catch::Contains("'space.batch_size.uniform'") && Catch::Contains("range cannot"));
  CHECK_THAT(error("  swa: {int: [0, 1]}\n"), Catch::Contains("true or false"));
  CHECK_THAT(error("  backbone: {choice: [resnet18, vgg16]}\n"),
             Catch::Contains("'space.backbone.choice[1]'") && Catch::Contains("torchscript:PATH"));
}

TEST_CASE("a torch study whose every parameter is valid loads", "[core][study][params]") {
  const StudySpec spec = Load(std::string(kTorchHead) +
                              "space:\n"
                              "  lr: {log_uniform: [1.0e-4, 0.1]}\n"
                              "  batch_size: {int: [16, 64], step: 16}\n"
                              "  momentum: {uniform: [0.0, 0.95]}\n"
                              "  backbone: {choice: [custom_cnn, 'torchscript:net.pt']}\n"
                              "  grad_clip: {int: [0, 5]}\n"
                              "enqueue:\n  - {lr: 0.01, batch_size: 32}\n");
  CHECK(spec.space.params.size() == 5);
}

TEST_CASE("a trial's epochs above budget.epochs stop the load, since its reports would be refused",
          "[core][study][params]") {
  const std::string head = std::string(kTorchHead) + "budget: {trials: 4, epochs: 10}\n";
  CHECK_THAT(LoadError(head + "space:\n  epochs: {choice: [4, 11]}\n"),
             Catch::Contains("'space.epochs.choice[1]'") &&
                 Catch::Contains("more than budget.epochs (10)"));
  CHECK_THAT(LoadError(head + "space:\n  epochs: {int: [2, 12]}\n"),
             Catch::Contains("'space.epochs.int[1]'"));
  CHECK_THAT(LoadError(head + "space:\n  epochs: {int: [2, 8]}\nenqueue:\n  - {epochs: 12}\n"),
             Catch::Contains("'enqueue[0].epochs'"));
  CHECK(Load(head + "space:\n  epochs: {choice: [4, 10]}\n").space.params.size() == 1);
}

TEST_CASE("a stored study is read back without checking its trial parameters",
          "[core][study][params]") {
  // Stored before the check existed: its trials fail, but the study can still be shown.
  Json stored = Load(std::string(kTorchHead) + "space:\n  lr: 0.1\n").ToJson();
  stored["space"]["leraning_rate"] = {{"value", 0.1}};
  const StudySpec spec = StudyFromJson(stored);
  CHECK(spec.space.Find("leraning_rate") != nullptr);
}

TEST_CASE("built-in objectives' spaces are not held to the torch parameters",
          "[core][study][params]") {
  const std::string branin = "study: b\ntrainer: {type: branin}\nspace:\n  x1: 0\n  x2: 0\n";
  CHECK(Warnings(branin).empty());
  const auto extra = Warnings(branin + "  lr: 0.1\n");
  REQUIRE(extra.size() == 1);
  CHECK_THAT(extra[0], Catch::StartsWith("study.yaml:6: warning: 'space.lr': has no effect") &&
                           Catch::Contains("reads only x1, x2"));
  CHECK(Warnings("study: c\ntrainer: {type: curve}\nspace:\n  anything: {uniform: [0, 1]}\n")
            .empty());
}

TEST_CASE("keys the chosen method never reads give a warning naming file, line and why",
          "[core][study][params]") {
  const auto greedy = Warnings(std::string(kTorchHead) + "ensemble: {method: greedy, size: 10}\n");
  REQUIRE(greedy.size() == 1);
  CHECK_THAT(greedy[0],
             Catch::StartsWith("study.yaml:3: warning: 'ensemble.size': has no effect") &&
                 Catch::Contains("ensemble.method is greedy"));
  CHECK(Warnings(std::string(kTorchHead) + "ensemble: {method: uniform, size: 10}\n").empty());
  const auto uniform =
      Warnings(std::string(kTorchHead) + "ensemble:\n  method: uniform\n  rounds: 5\n  top_n: 2\n");
  REQUIRE(uniform.size() == 2);
  CHECK_THAT(uniform[0], Catch::Contains("study.yaml:5: warning: 'ensemble.rounds'"));
  CHECK_THAT(uniform[1], Catch::Contains("'ensemble.top_n'") && Catch::Contains("weights"));
  CHECK_THAT(Warnings(std::string(kTorchHead) + "sampler: {type: random, gamma: 0.2}\n").at(0),
             Catch::Contains("'sampler.gamma'") && Catch::Contains("tpe"));
  CHECK_THAT(Warnings(std::string(kTorchHead) + "pruner: {type: median, reduction: 4}\n").at(0),
             Catch::Contains("'pruner.reduction'"));
  CHECK_THAT(Warnings(std::string(kTorchHead) + "pruner: {min_epochs: 2}\n").at(0),
             Catch::Contains("nothing is pruned"));
  CHECK_THAT(Warnings(std::string(kTorchHead) + "trainer: {noise: 0.1}\n").at(0),
             Catch::Contains("'trainer.noise'") && Catch::Contains("curve"));
}

TEST_CASE("the shipped studies load without warnings", "[core][study][params]") {
  for (const char* name : {"quickstart.yaml", "seed_replication.yaml", "mask_full.yaml"}) {
    INFO(name);
    std::vector<std::string> warnings;
    LoadStudyFile(std::string(ENSWEEP_SOURCE_DIR) + "/studies/" + name, &warnings);
    CHECK(warnings.empty());
  }
}

TEST_CASE("a study stored by an earlier version reads back to the same normalised JSON",
          "[core][study][params]") {
  // Every key and value as the normalised spec was written before the options became enums:
  // the same JSON keeps the same spec hash, so a stored study is still the same study.
  const Json stored = Json::parse(R"({
    "study": "old", "storage": "/s/ensweep.sqlite", "artifacts": "/s/artifacts/old",
    "data": {"format": "imagefolder", "train": "/d/train", "image_size": [96, 128],
             "split": {"by": "image", "val_fraction": 0.2, "folds": 1, "seed": 0}},
    "objective": {"metric": "val_macro_f1", "direction": "maximize"},
    "budget": {"trials": 4, "epochs": 2, "time": 90.0},
    "sampler": {"type": "tpe", "startup_trials": 10, "seed": 0, "candidates": 4, "gamma": 0.15,
                "gamma_cap": 25, "constant_liar": true, "multivariate": false},
    "pruner": {"type": "hyperband", "min_epochs": 1, "reduction": 3, "startup_trials": 5},
    "trainer": {"type": "torch", "epoch_time": 0.0, "noise": 0.01},
    "resources": {"gpus_per_trial": 1, "max_retries": 2, "heartbeat_timeout": 120.0},
    "enqueue": [{"lr": 0.01}],
    "space": {"lr": {"log_uniform": [0.0001, 0.1]}},
    "ensemble": {"candidates": 20, "method": "greedy", "size": 5, "tta": "hflip", "rounds": 25,
                 "init": 1, "bags": 1, "bag_fraction": 0.5, "metric": "log_loss", "top_n": 0,
                 "include_pruned": false, "one_per_backbone": false, "seed": 0}})");
  const StudySpec spec = StudyFromJson(stored);
  CHECK(spec.data.format == DataFormat::kImageFolder);
  CHECK(spec.data.split.by == SplitBy::kImage);
  CHECK(spec.pruner.type == PrunerType::kHyperband);
  CHECK(spec.ensemble.tta == EnsembleTta::kHflip);
  CHECK(spec.budget.time_s == 90);
  CHECK(spec.resources.slots_per_trial == 1);
  // resources.gpus_per_trial is read as its new name, slots_per_trial; the rest is unchanged.
  Json renamed = stored;
  renamed["resources"].erase("gpus_per_trial");
  renamed["resources"]["slots_per_trial"] = 1;
  CHECK(spec.ToJson() == renamed);
}

TEST_CASE("resources.slots_per_trial sets every trial's slots and the space may set a trial's own",
          "[core][study][params][gang]") {
  const StudySpec spec = Load(std::string(kTorchHead) +
                              "resources: {slots_per_trial: 2}\n"
                              "space:\n  slots_per_trial: {choice: [1, 4]}\n  lr: 0.1\n");
  CHECK(spec.resources.slots_per_trial == 2);
  CHECK(SlotsOfTrial(spec, Json{{"lr", 0.1}}) == 2);
  CHECK(SlotsOfTrial(spec, Json{{"slots_per_trial", 4}}) == 4);
  CHECK(MaxSlotsPerTrial(spec) == 4);
  CHECK(spec.ToJson()["resources"]["slots_per_trial"] == 2);
  // A built-in objective accepts it too, with its values checked.
  const std::string branin = "study: b\ntrainer: {type: branin}\n";
  std::vector<std::string> warnings;
  const StudySpec objective = Load(branin +
                                       "space:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15]}"
                                       "\n  slots_per_trial: {choice: [1, 2]}\n",
                                   &warnings);
  CHECK(MaxSlotsPerTrial(objective) == 2);
  CHECK(warnings.empty());  // no "has no effect": the coordinator reads it
  CHECK_THAT(LoadError(branin + "space:\n  x1: 0.5\n  x2: 1\n  slots_per_trial: 65\n"),
             Catch::Contains("'space.slots_per_trial'") && Catch::Contains("1..64"));
  CHECK_THAT(LoadError(std::string(kTorchHead) + "space:\n  slots_per_trial: 0\n"),
             Catch::Contains("'space.slots_per_trial'") && Catch::Contains("1..64"));
}

TEST_CASE("resources.gpus_per_trial is read as slots_per_trial with a warning naming the new key",
          "[core][study][params][gang]") {
  std::vector<std::string> warnings;
  const StudySpec spec =
      Load(std::string(kTorchHead) + "resources: {gpus_per_trial: 2}\n", &warnings);
  CHECK(spec.resources.slots_per_trial == 2);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("study.yaml:3") &&
                              Catch::Contains("resources.gpus_per_trial") &&
                              Catch::Contains("resources.slots_per_trial"));
  CHECK_THAT(
      LoadError(std::string(kTorchHead) + "resources: {gpus_per_trial: 2, slots_per_trial: 2}\n"),
      Catch::Contains("give only resources.slots_per_trial"));
}
