// End to end: a 2-slot torch trial trained data-parallel by a gang (local workers over TCP, and
// MPI ranks under mpirun) ends where the same trial trained by one worker ends.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/store.h"
#include "e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// One trial of a custom CNN without batch norm (a gang's members would otherwise normalise over
// their own shards and differ from one worker by design), 3 epochs, the same sampler seed and so
// the same trial seed in every study written here. Scope last: the final metrics compared are
// the last epoch's (under scope best, two epochs within float rounding of each other could be
// chosen differently by the two sides).
fs::path WriteStudy(const fs::path& dir, const std::string& name, int slots, int trials = 1) {
  const fs::path study = dir / (name + ".yaml");
  std::ofstream(study) << "study: " << name << R"(
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [32, 40], split: {seed: 1}}
budget: {trials: )" << trials
                       << R"(, epochs: 3}
sampler: {type: random, seed: 4}
objective: {scope: last}
resources: {slots_per_trial: )"
                       << slots << R"(}
space:
  backbone: custom_cnn
  norm: none
  lr: 0.01
  batch_size: 16
  flip_p: 0.5
)";
  return study;
}

struct TrialOutcome {
  TrialRecord trial;
  std::vector<EpochRecord> epochs;
};

TrialOutcome ReadTrial(const fs::path& dir, const std::string& study, int64_t number = 0) {
  StoredStudy stored = ReadStudy(dir, study);
  REQUIRE(stored.trials.size() > static_cast<size_t>(number));
  TrialOutcome outcome{stored.trials[number], stored.store->Epochs(stored.trials[number].id)};
  INFO(study << " trial " << number << ": " << outcome.trial.error);
  REQUIRE(outcome.trial.state == TrialState::kComplete);
  return outcome;
}

// Every epoch's train and validation loss and the final validation metrics agree within 1e-4.
void CheckSameTraining(const TrialOutcome& gang, const TrialOutcome& single) {
  REQUIRE(gang.epochs.size() == 3);
  REQUIRE(single.epochs.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    for (const char* name : {"train_loss", "val_loss", "val_accuracy"}) {
      INFO("epoch " << e + 1 << " " << name);
      CHECK(std::abs(gang.epochs[e].metrics.at(name) - single.epochs[e].metrics.at(name)) < 1e-4);
    }
  }
  for (const char* name : {"val_loss", "val_macro_f1", "val_accuracy"}) {
    INFO(name);
    CHECK(std::abs(gang.trial.metrics.at(name).get<double>() -
                   single.trial.metrics.at(name).get<double>()) < 1e-4);
  }
  // The training moved the loss (so the comparison is not of two untrained models).
  CHECK(single.epochs[2].metrics.at("train_loss") < single.epochs[0].metrics.at("train_loss"));
}

}  // namespace

TEST_CASE("a 2-slot trial on two local workers trains as the same trial on one worker",
          "[e2e][gang][torch]") {
  const fs::path dir = FreshDir("gang_local");
  GenerateMaskData(dir, 24, 6, 3);
  const auto single = RunCommand(Ensweep() + " run " + WriteStudy(dir, "one", 1).string() +
                                 " --workers 1 --threads 1 -q");
  INFO(single.output);
  REQUIRE(single.status == 0);
  const auto gang = RunCommand(Ensweep() + " run " + WriteStudy(dir, "two", 2).string() +
                               " --workers 2 --threads 1 -q");
  INFO(gang.output);
  REQUIRE(gang.status == 0);
  CheckSameTraining(ReadTrial(dir, "two"), ReadTrial(dir, "one"));

  // Rank 0 alone wrote the artifacts, into the trial's folder; show lists both members.
  const auto show = RunCommand(Ensweep() + " show " + (dir / "two.yaml").string() + " 0");
  INFO(show.output);
  CHECK(show.status == 0);
  CHECK_THAT(show.output, Catch::Contains("2 slots; workers by rank"));
  const TrialOutcome two = ReadTrial(dir, "two");
  CHECK(two.trial.worker.find(", ") != std::string::npos);
}

#if ENSWEEP_WITH_MPI
TEST_CASE("under mpirun -np 5 a study of 2-slot trials completes on gangs of MPI ranks",
          "[e2e][gang][mpi][torch]") {
  if (RunCommand("command -v mpirun").status != 0) {
    FAIL("mpirun is not installed (scripts/setup.sh installs openmpi-bin)");
  }
  const fs::path dir = FreshDir("gang_mpi");
  GenerateMaskData(dir, 24, 6, 3);
  const auto single = RunCommand(Ensweep() + " run " + WriteStudy(dir, "one", 1).string() +
                                 " --workers 1 --threads 1 -q");
  INFO(single.output);
  REQUIRE(single.status == 0);

  const std::string as_root =
      geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
  // Four worker ranks: two gangs of two train the study's 2 trials at the same time.
  const auto run = RunCommand(as_root + "mpirun -np 5 --oversubscribe " + Ensweep() + " run " +
                              WriteStudy(dir, "mpi", 2, 2).string() + " --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("4 MPI worker ranks"));
  const StoredStudy stored = ReadStudy(dir, "mpi");
  REQUIRE(stored.trials.size() == 2);
  for (const auto& trial : stored.trials) {
    INFO("trial " << trial.number << ": " << trial.error);
    CHECK(trial.state == TrialState::kComplete);
    CHECK_THAT(trial.worker, Catch::Contains("rank-"));
    CHECK(trial.worker.find(", ") != std::string::npos);
  }
  // Trial 0 has the single worker's trial 0's parameters and seed.
  CheckSameTraining(ReadTrial(dir, "mpi"), ReadTrial(dir, "one"));

  const auto show = RunCommand(Ensweep() + " show " + (dir / "mpi.yaml").string() + " 0");
  INFO(show.output);
  CHECK(show.status == 0);
  CHECK_THAT(show.output, Catch::Contains("2 slots; workers by rank"));
}
#endif
