// The trainer's model lifecycle: the best epoch kept under objective.scope best, and trials
// resumed from their last completed epoch.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that
// Catch's CHECK is the one in force.
#include <torch/serialize.h>

#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/mask_layout.h"
#include "core/npy.h"
#include "tests/worker/tiny_mask_data.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

const test::TinyMaskData& Data() {
  static const test::TinyMaskData data("lifecycle_test", 16, 3, 23);
  return data;
}

// The study's objective is the reported learning rate, maximised: under a step schedule that
// halves it every epoch the objective peaks at epoch 1 whatever the weights do, so the best epoch
// is known without relying on how a tiny model happens to learn.
StudySpec PeakingStudy(bool best_scope, int folds = 1) {
  StudySpec study = Data().Study("lifecycle");
  study.objective.metric = "lr";
  study.objective.maximize = true;
  study.objective.best_epoch = best_scope;
  study.data.split.folds = folds;
  return study;
}

const nlohmann::json kParams = {{"batch_size", 16},   {"optimizer", "adam"}, {"lr", 0.004},
                                {"schedule", "step"}, {"step_size", 1},      {"step_gamma", 0.5}};

class RecordingContext : public TrialContext {
 public:
  bool ReportEpoch(const EpochReport& report) override {
    reports.push_back(report);
    return true;
  }
  // Called after every training and prediction batch: fewer calls, fewer batches run.
  void KeepAlive() override { ++keep_alives; }
  std::vector<EpochReport> reports;
  int64_t keep_alives = 0;
};

// Stops the trial at epoch `stop_at`'s report the way a worker stopped by SIGTERM or lost
// mid-trial does: Run ends with an exception, leaving the artifact folder as it was.
class InterruptingContext : public RecordingContext {
 public:
  explicit InterruptingContext(int stop_at) : stop_at_(stop_at) {}
  bool ReportEpoch(const EpochReport& report) override {
    RecordingContext::ReportEpoch(report);
    if (report.epoch == stop_at_) throw std::runtime_error("interrupted");
    return true;
  }

 private:
  int stop_at_;
};

TrialRequest Request(int epochs, const std::string& name, const nlohmann::json& params = kParams) {
  TrialRequest request;
  request.trial_number = 1;
  request.seed = 17;
  request.params = params;
  request.epochs = epochs;
  request.artifact_dir = (Data().root / "artifacts" / name).string();
  return request;
}

std::map<std::string, ArtifactRecord> ByKind(const TrialResult& result) {
  std::map<std::string, ArtifactRecord> kinds;
  for (const ArtifactRecord& artifact : result.artifacts) kinds[artifact.kind] = artifact;
  return kinds;
}

std::vector<torch::Tensor> CheckpointTensors(const std::string& path) {
  std::shared_ptr<ClassifierImpl> model = MakeClassifier("custom_cnn", kNumClasses);
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  model->load(archive);
  std::vector<torch::Tensor> tensors;
  for (const torch::Tensor& p : model->parameters()) tensors.push_back(p.clone());
  for (const torch::Tensor& b : model->buffers()) tensors.push_back(b.clone());
  return tensors;
}

bool SameTensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

std::vector<std::string> CheckpointKinds(int folds) {
  if (folds == 1) return {"checkpoint"};
  std::vector<std::string> kinds;
  for (int f = 1; f <= folds; ++f) kinds.push_back("checkpoint_fold" + std::to_string(f));
  return kinds;
}

}  // namespace

TEST_CASE("scope best keeps the best epoch's metrics, predictions and checkpoints",
          "[worker][trainer][lifecycle]") {
  const int folds = GENERATE(1, 3);
  INFO("folds " << folds);
  const std::unique_ptr<Trainer> best = MakeTorchTrainer(PeakingStudy(true, folds), 2);
  const std::unique_ptr<Trainer> last = MakeTorchTrainer(PeakingStudy(false, folds), 2);
  const std::string tag = "f" + std::to_string(folds);

  RecordingContext best_context, last_context, one_context;
  const TrialResult best_result = best->Run(Request(3, tag + "best"), best_context);
  const TrialResult last_result = last->Run(Request(3, tag + "last"), last_context);
  // One epoch of the same trial: the model the best epoch (epoch 1) had.
  const TrialResult one_epoch = last->Run(Request(1, tag + "one"), one_context);

  // Every epoch is reported either way, and the two runs train the same models.
  REQUIRE(best_context.reports.size() == 3);
  REQUIRE(last_context.reports.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    CHECK(best_context.reports[e].metrics == last_context.reports[e].metrics);
  }
  CHECK(best_context.reports[0].metrics.at("lr") > best_context.reports[2].metrics.at("lr"));

  // scope best: epoch 1's report, recorded as best_epoch.
  REQUIRE(best_result.metrics.count("best_epoch") == 1);
  CHECK(best_result.metrics.at("best_epoch") == 1.0);
  MetricMap reported = best_result.metrics;
  reported.erase("best_epoch");
  reported.erase("folds");
  CHECK(reported == best_context.reports[0].metrics);
  CHECK(best_result.epochs_completed == 3);

  // scope last: today's behaviour, the last epoch's report and no best_epoch.
  CHECK(last_result.metrics.count("best_epoch") == 0);
  MetricMap last_reported = last_result.metrics;
  last_reported.erase("folds");
  CHECK(last_reported == last_context.reports[2].metrics);

  // The stored predictions and checkpoints are epoch 1's: identical to the one-epoch trial's,
  // and not the last epoch's.
  const auto best_kinds = ByKind(best_result);
  const auto last_kinds = ByKind(last_result);
  const auto one_kinds = ByKind(one_epoch);
  for (const char* kind :
       {"val_probs", "val_probs_hflip", "eval_probs", "eval_probs_hflip", "val_index"}) {
    INFO(kind);
    REQUIRE(best_kinds.count(kind) == 1);
    CHECK(best_kinds.at(kind).checksum == one_kinds.at(kind).checksum);
  }
  CHECK(best_kinds.at("val_probs").checksum != last_kinds.at("val_probs").checksum);
  CHECK(best_kinds.at("eval_probs").checksum != last_kinds.at("eval_probs").checksum);
  for (const std::string& kind : CheckpointKinds(folds)) {
    INFO(kind);
    REQUIRE(best_kinds.count(kind) == 1);
    const auto kept = CheckpointTensors(best_kinds.at(kind).path);
    CHECK(SameTensors(kept, CheckpointTensors(one_kinds.at(kind).path)));
    CHECK_FALSE(SameTensors(kept, CheckpointTensors(last_kinds.at(kind).path)));
  }
}

TEST_CASE("a trial stopped after epoch 2 of 4 resumes there and ends as if never stopped",
          "[worker][trainer][lifecycle]") {
  // Three cases cover the state's parts: the best epoch's weights (scope best), several folds'
  // models, and an SWA average that spans the stop.
  struct Case {
    bool best_scope;
    int folds;
    bool swa;
  };
  const Case c = GENERATE(Case{true, 1, false}, Case{true, 3, true}, Case{false, 1, true});
  const bool best_scope = c.best_scope, swa = c.swa;
  const int folds = c.folds;
  nlohmann::json params = kParams;
  if (swa) {  // the average spans the stop: epochs 2, 3 and 4
    params["swa"] = true;
    params["swa_start"] = 2;
    params["swa_lr"] = 0.002;
  }
  INFO("scope " << (best_scope ? "best" : "last") << ", folds " << folds << ", swa " << swa);
  const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(PeakingStudy(best_scope, folds), 2);
  const std::string tag =
      std::string(best_scope ? "b" : "l") + std::to_string(folds) + (swa ? "s" : "p");

  RecordingContext whole_context;
  const TrialResult whole = trainer->Run(Request(4, tag + "whole", params), whole_context);

  const TrialRequest request = Request(4, tag + "resumed", params);
  InterruptingContext cut(2);
  REQUIRE_THROWS_WITH(trainer->Run(request, cut), "interrupted");
  CHECK(cut.reports.size() == 2);
  CHECK(fs::exists(fs::path(request.artifact_dir) / "resume.pt"));

  // The next attempt replays epochs 1 and 2 from the saved state (the coordinator forgot
  // them), trains 3 and 4, and ends with the uninterrupted trial's metrics and artifacts.
  RecordingContext again;
  const TrialResult resumed = trainer->Run(request, again);
  REQUIRE(again.reports.size() == 4);
  for (size_t e = 0; e < 4; ++e) {
    INFO("epoch " << e + 1);
    CHECK(again.reports[e].epoch == whole_context.reports[e].epoch);
    CHECK(again.reports[e].metrics == whole_context.reports[e].metrics);
  }
  // Resumed, not trained again from epoch 1 (which would end the same): epochs 1 and 2 are not
  // trained again.
  CHECK(again.keep_alives < whole_context.keep_alives);
  CHECK(resumed.metrics == whole.metrics);
  CHECK(resumed.epochs_completed == 4);
  const auto whole_kinds = ByKind(whole);
  const auto resumed_kinds = ByKind(resumed);
  REQUIRE(resumed_kinds.size() == whole_kinds.size());
  for (const char* kind : {"val_probs", "val_probs_hflip", "eval_probs", "eval_probs_hflip"}) {
    INFO(kind);
    CHECK(resumed_kinds.at(kind).checksum == whole_kinds.at(kind).checksum);
  }
  for (const std::string& kind : CheckpointKinds(folds)) {
    INFO(kind);
    CHECK(SameTensors(CheckpointTensors(resumed_kinds.at(kind).path),
                      CheckpointTensors(whole_kinds.at(kind).path)));
  }
  CHECK_FALSE(fs::exists(fs::path(request.artifact_dir) / "resume.pt"));  // removed at the end
}

TEST_CASE("a saved state of other parameters is not resumed", "[worker][trainer][lifecycle]") {
  const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(PeakingStudy(true), 2);
  InterruptingContext cut(1);
  REQUIRE_THROWS(trainer->Run(Request(3, "other"), cut));
  nlohmann::json other = kParams;
  other["lr"] = 0.002;
  RecordingContext in_place, fresh;
  trainer->Run(Request(3, "other", other), in_place);
  trainer->Run(Request(3, "other-fresh", other), fresh);
  REQUIRE(in_place.reports.size() == 3);
  CHECK(in_place.keep_alives == fresh.keep_alives);  // every epoch trained
  for (size_t e = 0; e < 3; ++e) {
    CHECK(in_place.reports[e].metrics == fresh.reports[e].metrics);
  }
}

}  // namespace ensweep
