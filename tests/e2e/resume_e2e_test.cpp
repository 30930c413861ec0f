// End to end: a torch trial stopped by SIGTERM after its second epoch resumes from that epoch
// when the study runs again, and ends with the metrics and predictions of a run never stopped.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "core/store.h"
#include "e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// One custom-CNN trial of 4 epochs on the data in `data` (absolute), its store and artifacts in
// `dir`; the same study name and sampler seed everywhere, so the same trial seed.
fs::path WriteStudy(const fs::path& dir, const fs::path& data) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: resume\n"
                       << "storage: runs/store.sqlite\n"
                       << "artifacts: runs/artifacts\n"
                       << "data: {train: " << (data / "train").string()
                       << ", eval: " << (data / "eval").string()
                       << ", image_size: [48, 64], split: {seed: 1}}\n"
                       << R"(budget: {trials: 1, epochs: 4}
sampler: {type: random, seed: 4}
space:
  backbone: custom_cnn
  optimizer: adam
  lr: 0.003
  batch_size: 16
  flip_p: 0.5
)";
  return study;
}

std::map<std::string, std::string> Checksums(const StoredStudy& stored, const TrialRecord& t) {
  std::map<std::string, std::string> sums;
  for (const ArtifactRecord& a : stored.store->Artifacts(t.id)) sums[a.kind] = a.checksum;
  return sums;
}

}  // namespace

TEST_CASE("a trial stopped by SIGTERM after epoch 2 resumes there and ends as if never stopped",
          "[e2e][resume]") {
  const fs::path dir = FreshDir("resume");
  GenerateMaskData(dir, 30, 4, 9);
  const fs::path whole_dir = dir / "whole", cut_dir = dir / "cut";
  fs::create_directories(whole_dir);
  fs::create_directories(cut_dir);

  const auto whole_run =
      RunCommand(Ensweep() + " run " + WriteStudy(whole_dir, dir / "data").string() +
                 " --workers 1 --threads 1");
  INFO(whole_run.output);
  REQUIRE(whole_run.status == 0);

  const fs::path study = WriteStudy(cut_dir, dir / "data");
  const pid_t run = StartRun(study, 1, cut_dir / "run.txt", {}, {"--threads", "1"});
  REQUIRE(WaitFor(cut_dir / "run.txt", "trial 0 epoch 2/4"));
  kill(-run, SIGTERM);  // epoch 2's state is on disk before its report is printed
  const int status = WaitExit(run);
  INFO(ReadFile(cut_dir / "run.txt"));
  REQUIRE(status == 130);
  const fs::path state = cut_dir / "runs/artifacts/trial-00000/resume.pt";
  {
    const StoredStudy stopped = ReadStudy(cut_dir, "resume");
    REQUIRE(stopped.trials.size() == 1);
    REQUIRE(stopped.trials[0].state == TrialState::kQueued);  // stopped before its epoch 4
    CHECK(fs::exists(state));
  }

  const auto rerun = RunCommand(Ensweep() + " run " + study.string() + " --workers 1 --threads 1");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK_THAT(rerun.output, Catch::Contains("trial 0: resumed after epoch"));
  CHECK_FALSE(fs::exists(state));

  const StoredStudy whole = ReadStudy(whole_dir, "resume");
  const StoredStudy resumed = ReadStudy(cut_dir, "resume");
  REQUIRE(resumed.trials.size() == 1);
  const TrialRecord& a = whole.trials[0];
  const TrialRecord& b = resumed.trials[0];
  REQUIRE(b.state == TrialState::kComplete);
  CHECK(b.retries == 0);
  REQUIRE(a.value);
  REQUIRE(b.value);
  CHECK(*b.value == *a.value);
  CHECK(b.metrics == a.metrics);
  const auto a_epochs = whole.store->Epochs(a.id);
  const auto b_epochs = resumed.store->Epochs(b.id);
  REQUIRE(a_epochs.size() == 4);
  REQUIRE(b_epochs.size() == 4);
  for (size_t e = 0; e < 4; ++e) {
    INFO("epoch " << e + 1);
    CHECK(b_epochs[e].metrics == a_epochs[e].metrics);
  }
  const auto a_sums = Checksums(whole, a), b_sums = Checksums(resumed, b);
  for (const char* kind : {"val_probs", "val_probs_hflip", "eval_probs", "eval_probs_hflip"}) {
    INFO(kind);
    REQUIRE(a_sums.count(kind) == 1);
    REQUIRE(b_sums.count(kind) == 1);
    CHECK(b_sums.at(kind) == a_sums.at(kind));
  }
}
