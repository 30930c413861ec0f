// End to end: controlling a run from outside (a second run of a running study, SIGTERM to the
// whole process group, input checks on the command line) with the real binary and a built-in
// objective, so no LibTorch is involved.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// A curve study of `trials` trials x 4 epochs of 0.25 s each, stored in dir.
fs::path CurveStudy(const fs::path& dir, int trials) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: control\n"
                       << "storage: " << (dir / "store.sqlite").string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << "trainer: {type: curve, epoch_time: 0.25s, noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: " << trials << ", epochs: 4}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  return study;
}

// Requires the study in dir to hold `count` trials, every one COMPLETE at its first attempt.
void CheckAllCompleteFirstTime(const fs::path& dir, size_t count) {
  const auto store = Store::OpenReadOnly((dir / "store.sqlite").string());
  const auto record = store->FindStudy("control");
  REQUIRE(record);
  const auto trials = store->Trials(record->id);
  REQUIRE(trials.size() == count);
  for (const auto& t : trials) {
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.retries == 0);
  }
}

// Waits for `run` (started with output in dir/run.txt), which was sent a stop signal: it must
// stop cleanly (exit 130, no trial failed or STALE), and a rerun must then finish the study's 3
// trials, each at its first attempt (an interruption is not a retry).
void CheckCleanStopAndRerun(const fs::path& dir, const fs::path& study, pid_t run) {
  const int status = WaitExit(run);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(status == 130);
  CHECK_THAT(output, Catch::Contains("stopped: "));
  CHECK_THAT(output, !Catch::Contains("internal error"));
  CHECK_THAT(output, !Catch::Contains("STALE"));
  const auto rerun = RunCommand(Ensweep() + " run " + study.string() + " --workers 2");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK_THAT(rerun.output, Catch::Contains("queued"));
  CheckAllCompleteFirstTime(dir, 3);
}

}  // namespace

TEST_CASE("a second run of a running study exits with 2 and leaves the first run alone",
          "[e2e][control]") {
  const fs::path dir = FreshDir("second_run");
  const fs::path study = CurveStudy(dir, 3);
  const pid_t first = StartRun(study, 1, dir / "first.txt");
  REQUIRE(WaitFor(dir / "first.txt", "epoch 1/4"));
  const auto second = RunCommand(Ensweep() + " run " + study.string() + " --workers 1");
  INFO(second.output);
  CHECK(second.status == 2);
  CHECK_THAT(second.output, Catch::Contains("study 'control' in "));
  CHECK_THAT(second.output, Catch::Contains("is already being run"));
  CHECK_THAT(second.output, Catch::Contains("ensweep worker --connect 127.0.0.1:"));
  CHECK_THAT(second.output, Catch::Contains(".control.token`"));
  // A study is its name in its store, whichever file names it: a copy of the study file with
  // other artifacts is refused too.
  std::string copy = ReadFile(study);
  copy.replace(copy.find("/artifacts"), 10, "/other_artifacts");
  std::ofstream(dir / "copy.yaml") << copy;
  const auto third = RunCommand(Ensweep() + " run " + (dir / "copy.yaml").string());
  INFO(third.output);
  CHECK(third.status == 2);
  CHECK_THAT(third.output, Catch::Contains("is already being run"));
  // ... and so is one that reaches the store through a symbolic link.
  fs::create_symlink(dir / "store.sqlite", dir / "link.sqlite");
  copy.replace(copy.find("/store.sqlite"), 13, "/link.sqlite");
  std::ofstream(dir / "linked.yaml") << copy;
  const auto fourth = RunCommand(Ensweep() + " run " + (dir / "linked.yaml").string());
  INFO(fourth.output);
  CHECK(fourth.status == 2);
  CHECK_THAT(fourth.output, Catch::Contains("is already being run"));
  const int first_status = WaitExit(first);
  INFO(ReadFile(dir / "first.txt"));
  CHECK(first_status == 0);
  CheckAllCompleteFirstTime(dir, 3);  // the second run did not take a trial over
  // Once the first run has ended, the study can be run again (here: extended).
  const auto extend = RunCommand(Ensweep() + " run " + study.string() + " --workers 1 --trials 4");
  INFO(extend.output);
  CHECK(extend.status == 0);
  CHECK_THAT(extend.output, Catch::Contains("[   4/4] trial 3 COMPLETE"));
}

TEST_CASE("SIGTERM to the run's process group stops it cleanly and a rerun finishes the study",
          "[e2e][control]") {
  const fs::path dir = FreshDir("sigterm");
  const fs::path study = CurveStudy(dir, 3);
  const pid_t run = StartRun(study, 2, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  // The coordinator's process group, as `kill -- -PGID` or a terminal's Ctrl-C reach it (local
  // workers have a group of their own and are stopped by the coordinator).
  kill(-run, SIGTERM);
  CheckCleanStopAndRerun(dir, study, run);
}

TEST_CASE("SIGTERM reaching the workers before the coordinator does not fail their trials",
          "[e2e][control]") {
  const fs::path dir = FreshDir("sigterm_workers_first");
  const fs::path study = CurveStudy(dir, 3);
  const pid_t run = StartRun(study, 2, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  // As systemd or a scheduler may do: every process of the job, the workers first.
  const auto workers = RunCommand("pgrep -P " + std::to_string(run));
  REQUIRE(Lines(workers.output).size() == 2);
  for (const auto& pid : Lines(workers.output)) kill(std::stoi(pid), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(run, SIGTERM);
  CheckCleanStopAndRerun(dir, study, run);
}

TEST_CASE("bad numbers on the command line and changed objectives exit with 2", "[e2e][control]") {
  const fs::path dir = FreshDir("bad_input");
  const fs::path study = CurveStudy(dir, 2);
  for (const std::string args : {"--threads 0", "--threads -1"}) {
    const auto bad = RunCommand(Ensweep() + " run " + study.string() + " " + args);
    INFO(args << ": " << bad.output);
    CHECK(bad.status == 2);
    CHECK_THAT(bad.output, Catch::Contains("must be a whole number >= 1"));
  }
  // --workers 0 starts none (workers join by hand), but not fewer.
  const auto negative = RunCommand(Ensweep() + " run " + study.string() + " --workers -1");
  INFO(negative.output);
  CHECK(negative.status == 2);
  CHECK_THAT(negative.output, Catch::Contains("must be a whole number >= 0"));
  for (const std::string args : {"--trials 0", "--trials 1000001"}) {
    const auto bad = RunCommand(Ensweep() + " run " + study.string() + " " + args);
    INFO(args << ": " << bad.output);
    CHECK(bad.status == 2);
    CHECK_THAT(bad.output, Catch::Contains("must be a whole number between 1 and 1000000"));
  }
  // --trials may not cut the study's enqueued trials short (the file alone may not either).
  std::ofstream(dir / "enqueued.yaml")
      << ReadFile(study) << "enqueue:\n  - {lr: 0.01}\n  - {lr: 0.02}\n";
  const auto short_budget =
      RunCommand(Ensweep() + " run " + (dir / "enqueued.yaml").string() + " --trials 1");
  INFO(short_budget.output);
  CHECK(short_budget.status == 2);
  CHECK_THAT(short_budget.output, Catch::Contains("enqueues 2 trials"));
  REQUIRE(RunCommand(Ensweep() + " run " + study.string() + " --workers 1 -q").status == 0);
  std::string text = ReadFile(study);
  text.replace(text.find("maximize"), 8, "minimize");
  std::ofstream(dir / "flipped.yaml") << text;
  const auto flipped = RunCommand(Ensweep() + " run " + (dir / "flipped.yaml").string());
  INFO(flipped.output);
  CHECK(flipped.status == 2);
  CHECK_THAT(flipped.output, Catch::Contains("'objective'"));
  const auto top = RunCommand(Ensweep() + " top " + study.string());
  CHECK_THAT(top.output, Catch::Contains("objective val_accuracy (maximize)"));
}
