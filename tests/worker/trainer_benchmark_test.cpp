// Training throughput on the CPU, run by hand:
//   worker_test "[benchmark]"          (ENSWEEP_BENCH_PEOPLE=150 persons, 7 photos each)
// Hidden from the default run ([.]): it takes a minute or more on 2 cores.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "datagen/mask_generator.h"
#include "tests/scratch_dir.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Records when each epoch's report arrives (training plus validation of that epoch).
class TimingContext : public TrialContext {
 public:
  bool ReportEpoch(const EpochReport& report) override {
    const auto now = Clock::now();
    epoch_seconds.push_back(std::chrono::duration<double>(now - last_).count());
    last_ = now;
    metrics = report.metrics;
    return true;
  }
  void KeepAlive() override {}
  void Start() { last_ = Clock::now(); }

  std::vector<double> epoch_seconds;
  MetricMap metrics;

 private:
  Clock::time_point last_ = Clock::now();
};

}  // namespace

TEST_CASE("training throughput at 48x64 on the CPU", "[.][benchmark][worker]") {
  const char* people_env = std::getenv("ENSWEEP_BENCH_PEOPLE");
  const fs::path root = test::ScratchPath("ensweep_trainer_bench", "data");
  DatagenOptions options;
  options.people = people_env ? std::atoi(people_env) : 150;
  options.eval_people = 1;
  options.width = 48;
  options.height = 64;
  const DatagenSummary summary = GenerateMaskDataset(root.string(), options);

  StudySpec study;
  study.data.train = (root / "train").string();
  study.data.width = 48;
  study.data.height = 64;
  std::printf("%d training images (before the 80/20 split), 48x64 (w x h), batch 32, 3 epochs\n",
              summary.train_images);
  for (const std::string backbone : {"custom_cnn", "resnet18"}) {
    for (int threads : {1, 2}) {
      const std::unique_ptr<Trainer> trainer = MakeTorchTrainer(study, threads);
      TimingContext warmup;  // decodes the images, so the timed run measures training only
      TrialRequest request;
      request.params = {{"backbone", backbone}, {"epochs", 1}, {"batch_size", 32}};
      request.artifact_dir = (root / "warmup").string();
      trainer->Run(request, warmup);

      TimingContext context;
      request.params["epochs"] = 3;
      request.artifact_dir = (root / (backbone + std::to_string(threads))).string();
      const auto start = Clock::now();
      context.Start();
      trainer->Run(request, context);
      const double total = std::chrono::duration<double>(Clock::now() - start).count();
      double best = context.epoch_seconds.front();
      for (double s : context.epoch_seconds) best = std::min(best, s);
      std::printf(
          "%-10s %d thread(s): trial %.1f s, fastest epoch %.2f s = %.0f images/s "
          "(train + validation pass), val_accuracy %.3f\n",
          backbone.c_str(), threads, total, best, summary.train_images / best,
          context.metrics["val_accuracy"]);
    }
  }
}

}  // namespace ensweep
