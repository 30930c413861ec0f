// End to end: datagen -> run (local TCP workers, and under mpirun) -> store -> top -> ensemble ->
// score, through the real binary, on a tiny generated data set.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "core/csv.h"
#include "core/store.h"
#include "e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// Generates data and writes a study whose first (enqueued) trial has a backbone file that does not
// exist: a valid parameter at load, a FAILED trial when the worker opens it.
fs::path PrepareStudy(const std::string& name) {
  const fs::path dir = FreshDir(name);
  GenerateMaskData(dir, 24, 6, 3);
  std::ofstream(dir / "study.yaml") << "study: " << name << R"(
storage: runs/store.sqlite
artifacts: runs/artifacts
data: {train: data/train, eval: data/eval, image_size: [32, 40], split: {seed: 1}}
budget: {trials: 5, epochs: 2}
sampler: {type: random, seed: 4}
enqueue:
  - {backbone: 'torchscript:missing.pt'}
space:
  backbone: {choice: [custom_cnn, resnet18, 'torchscript:missing.pt']}
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  batch_size: 16
)";
  return dir;
}

// What every successful sweep of PrepareStudy must leave behind.
void CheckStudyOutcome(const fs::path& dir, const std::string& name) {
  const StoredStudy stored = ReadStudy(dir, name);
  const auto& store = stored.store;
  const auto& trials = stored.trials;
  REQUIRE(trials.size() == 5);
  int complete = 0;
  for (const auto& t : trials) {
    if (t.params["backbone"] == "torchscript:missing.pt") {
      CheckFailedWith(t, "missing.pt");
      continue;
    }
    REQUIRE(t.state == TrialState::kComplete);
    ++complete;
    REQUIRE(t.value);
    CHECK(*t.value >= 0.0);
    CHECK(*t.value <= 1.0);
    CHECK(store->Epochs(t.id).size() == 2);
    const auto artifacts = store->Artifacts(t.id);
    std::set<std::string> kinds;
    for (const auto& a : artifacts) {
      kinds.insert(a.kind);
      CHECK(fs::file_size(a.path) == static_cast<uintmax_t>(a.size_bytes));
    }
    CHECK(kinds == std::set<std::string>{"checkpoint", "confusion_matrix", "eval_probs",
                                         "eval_probs_hflip", "val_index", "val_probs",
                                         "val_probs_hflip"});
  }
  CHECK(trials[0].state == TrialState::kFailed);  // the enqueued trial ran first
  CHECK(complete >= 1);

  // Leaderboard: CSV rows best first, matching the store.
  const auto top =
      RunCommand(Ensweep() + " top " + (dir / "study.yaml").string() + " --format csv");
  REQUIRE(top.status == 0);
  const auto lines = Lines(top.output);
  REQUIRE(lines.size() == static_cast<size_t>(complete) + 1);
  CHECK(lines[0].rfind("rank,trial,state,val_macro_f1,", 0) == 0);
  const auto best = store->TopTrials(stored.id, true, 1);
  REQUIRE(best.size() == 1);
  CHECK(lines[1].rfind("1," + std::to_string(best[0].number) + ",COMPLETE,", 0) == 0);

  // Ensemble: a submission with info.csv's rows in order and classes in 0..17, scored.
  const CsvTable written = ScoredEnsemble(dir, 2);
  const fs::path submission = dir / "submission.csv";
  const CsvTable info = ReadCsv((dir / "data/eval/info.csv").string());
  CHECK(written.header == info.header);
  REQUIRE(written.rows.size() == info.rows.size());
  for (size_t r = 0; r < info.rows.size(); ++r) {
    CHECK(written.rows[r][0] == info.rows[r][0]);
    const int ans = std::stoi(written.rows[r][written.Column("ans")]);
    CHECK(ans >= 0);
    CHECK(ans < 18);
  }
  const auto ensembles = store->Ensembles(stored.id);
  REQUIRE(ensembles.size() == 1);
  CHECK(ensembles[0].member_numbers.size() == std::min<size_t>(2, complete));
  CHECK(ensembles[0].submission_path == fs::absolute(submission).string());

  const auto score = RunCommand(Ensweep() + " score " + submission.string() + " --labels " +
                                (dir / "data/eval_labels.csv").string() + " --format json");
  REQUIRE(score.status == 0);
  const auto parsed = nlohmann::json::parse(score.output);
  CHECK(parsed["rows"] == info.rows.size());
  CHECK(parsed["macro_f1"].get<double>() >= 0.0);
}

}  // namespace

TEST_CASE("a local sweep with 2 workers records trials, ranks them and writes a submission",
          "[e2e][local][torch]") {
  const fs::path dir = PrepareStudy("local");
  const auto run =
      RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 2 --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("FAILED"));
  CHECK_THAT(run.output, Catch::Contains("COMPLETE"));
  CHECK_THAT(run.output, Catch::Contains("worker local-1 ready"));
  CHECK_THAT(run.output, Catch::Contains("worker local-2 ready"));
  // A new study with an enqueued trial is not a resumed one.
  CHECK_THAT(run.output, !Catch::Contains("resuming"));
  CheckStudyOutcome(dir, "local");

  // Running it again resumes a finished study: nothing is rerun.
  const auto again =
      RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 1");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK_THAT(again.output, Catch::Contains("resuming with 5 trials"));
  CHECK_THAT(again.output, Catch::Contains("finished: 0 trials ended"));

  // Stored probabilities are readable by numpy, where numpy is installed.
  if (RunCommand("/usr/bin/python3 -c 'import numpy'").status == 0) {
    const StoredStudy stored = ReadStudy(dir, "local");
    const auto best = stored.store->TopTrials(stored.id, true, 1);
    REQUIRE(best.size() == 1);
    for (const auto& a : stored.store->Artifacts(best[0].id)) {
      if (a.kind != "val_probs") continue;
      const auto check =
          RunCommand("/usr/bin/python3 -c \"import numpy; a = numpy.load('" + a.path +
                     "'); assert a.dtype == numpy.float32 and a.shape[1] == 18; "
                     "assert abs(a.sum(axis=1) - 1).max() < 1e-4; print(a.shape[0])\"");
      INFO(check.output);
      CHECK(check.status == 0);
    }
  }
}

#if ENSWEEP_WITH_MPI
TEST_CASE("the same sweep runs under mpirun with rank 0 as coordinator", "[e2e][mpi][torch]") {
  if (RunCommand("command -v mpirun").status != 0) {
    FAIL("mpirun is not installed (scripts/setup.sh installs openmpi-bin)");
  }
  const fs::path dir = PrepareStudy("mpi");
  // Open MPI refuses to start as root unless told so twice; containers and CI often run as root.
  const std::string as_root =
      geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
  const auto run = RunCommand(as_root + "mpirun -np 3 --oversubscribe " + Ensweep() + " run " +
                              (dir / "study.yaml").string() + " --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("2 MPI worker ranks"));
  CHECK_THAT(run.output, Catch::Contains("worker rank-1 ready"));
  CHECK_THAT(run.output, Catch::Contains("worker rank-2 ready"));
  CheckStudyOutcome(dir, "mpi");
}
#else
TEST_CASE("a build without MPI says so when started by an MPI launcher", "[e2e][mpi]") {
  const fs::path dir = FreshDir("no_mpi");
  std::ofstream(dir / "study.yaml") << "study: no-mpi\ntrainer: {type: branin}\n"
                                       "budget: {trials: 2, epochs: 1}\n"
                                       "space:\n  x1: {uniform: [-5, 10]}\n  x2: 1.0\n";
  // What mpirun sets in every rank's environment.
  const auto run =
      RunCommand("OMPI_COMM_WORLD_SIZE=3 " + Ensweep() + " run " + (dir / "study.yaml").string());
  INFO(run.output);
  CHECK(run.status == 2);
  CHECK_THAT(run.output, Catch::Contains("built without MPI"));
  CHECK_THAT(run.output, Catch::Contains("--workers N"));
  // Without the launcher's environment the same build runs the study with local workers.
  const auto local = RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " -q");
  INFO(local.output);
  CHECK(local.status == 0);
}
#endif

TEST_CASE("a bad study file exits with status 2 and names the file, line and key", "[e2e][cli]") {
  const fs::path dir = FreshDir("bad");
  std::ofstream(dir / "bad.yaml")
      << "study: bad\ndata: {train: x}\nspace:\n  lr: {log_uniform: [0, 1]}\n";
  const auto run = RunCommand(Ensweep() + " run " + (dir / "bad.yaml").string());
  CHECK(run.status == 2);
  CHECK_THAT(run.output, Catch::Contains("bad.yaml:4"));
  CHECK_THAT(run.output, Catch::Contains("space.lr.log_uniform"));

  const auto unknown = RunCommand(Ensweep() + " frobnicate");
  CHECK(unknown.status == 2);
}

// A torch study's data is checked once the trainer module is found (a build without it says
// that first).
TEST_CASE("a torch study whose data folder is missing exits with status 2 and names the key",
          "[e2e][cli][torch]") {
  const fs::path dir = FreshDir("nodata");
  std::ofstream(dir / "nodata.yaml") << "study: nodata\ndata: {train: missing}\n";
  const auto missing = RunCommand(Ensweep() + " run " + (dir / "nodata.yaml").string());
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("'data.train'"));
  CHECK_THAT(missing.output, Catch::Contains("does not exist"));

  const auto top = RunCommand(Ensweep() + " top " + (dir / "nodata.yaml").string());
  CHECK(top.status == 2);
  CHECK_THAT(top.output, Catch::Contains("no store yet"));
}

TEST_CASE("a grid study announces and counts the trials its grid holds, not its budget",
          "[e2e][cli]") {
  const fs::path dir = FreshDir("grid_banner");
  std::ofstream(dir / "study.yaml") << "study: grid-banner\ntrainer: {type: branin}\n"
                                       "objective: {metric: value, direction: minimize}\n"
                                       "budget: {trials: 100, epochs: 1}\n"
                                       "sampler: {type: grid}\n"
                                       "space:\n  x1: {choice: [0, 1]}\n  x2: {choice: [2, 3]}\n";
  const auto run = RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("study grid-banner: 4 trials x 1 epoch"));
  CHECK_THAT(run.output, Catch::Contains("[   4/4] trial"));
  CHECK_THAT(run.output, !Catch::Contains("100 trials"));
  CHECK_THAT(run.output, !Catch::Contains("/100]"));
}
