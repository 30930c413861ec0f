// Step time of a data-parallel gang on the CPU against one worker, run by hand:
//   worker_test "[gang-bench]"        (ENSWEEP_BENCH_REPS=5 runs of 10 timed steps each)
// Hidden from the default run ([.]). bench/trainer/README.md has the figures and the command.
//
// A step is what the trainer's TrainStep does for one global batch: each member's forward on its
// slice, its share of the batch's loss (HeadLossShare), backward, the gradients summed over the
// gang (Gang::SumGradients, one AllReduceSum), and the SGD step. The gang's members are threads
// of this process joined by MakeLocalGroup (in memory) or by ConnectGang (TCP over 127.0.0.1),
// each with 1 intra-op thread; the single worker runs the whole batch on one thread with 1 and
// with 2 intra-op threads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop it for Catch's.
#include <torch/optim.h>

#include "worker/communicator.h"
#include "worker/gang.h"
#include "worker/heads.h"
#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/mask_layout.h"

namespace ensweep {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 32, kWidth = 48, kHeight = 64, kWarmup = 3, kSteps = 10;

struct StepFigures {
  double seconds_per_step = 0;
  double allreduce_seconds_per_step = 0;
  double allreduce_bytes_per_step = 0;
};

// kSteps timed steps (after kWarmup) of one member on its slice of a fixed global batch.
StepFigures RunMember(const std::string& backbone, Gang& gang) {
  // Initialisation draws from the process-wide generator (members race on it; rank 0's weights
  // are broadcast); the batch does not.
  std::shared_ptr<ClassifierImpl> model = MakeClassifier(backbone, kNumClasses);
  gang.BroadcastModel(*model, /*buffers_only=*/false);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor images = torch::arange(kBatch * 3 * kHeight * kWidth, torch::kFloat32)
                                   .sin()
                                   .view({kBatch, 3, kHeight, kWidth});
  const torch::Tensor labels = torch::arange(kBatch, torch::kInt64).remainder(kNumClasses);
  const auto [first, last] = gang.Shard(kBatch);
  const torch::Tensor mine = images.narrow(0, first, last - first);
  const torch::Tensor my_labels = labels.narrow(0, first, last - first);
  TrialParams params;
  model->train();
  Clock::time_point start;
  CommStats before;
  for (int step = 0; step < kWarmup + kSteps; ++step) {
    if (step == kWarmup) {
      start = Clock::now();
      before = gang.stats();
    }
    optimizer.zero_grad();
    torch::Tensor loss = HeadLossShare(model->forward(mine), my_labels, labels, params, {});
    loss.backward();
    torch::Tensor total = loss.detach().reshape({1}).clone();
    gang.SumGradients(model->parameters(), total);
    optimizer.step();
  }
  StepFigures f;
  f.seconds_per_step = std::chrono::duration<double>(Clock::now() - start).count() / kSteps;
  const CommStats after = gang.stats();
  f.allreduce_seconds_per_step = (after.allreduce_seconds - before.allreduce_seconds) / kSteps;
  f.allreduce_bytes_per_step =
      static_cast<double>(after.allreduce_bytes - before.allreduce_bytes) / kSteps;
  return f;
}

// Hands rank 0's rendezvous blob to the other members (ConnectGang's TCP backend).
class RelayContext : public TrialContext {
 public:
  RelayContext(std::shared_ptr<std::promise<std::string>> relay,
               std::shared_future<std::string> relayed)
      : relay_(std::move(relay)), relayed_(std::move(relayed)) {}
  bool ReportEpoch(const EpochReport&) override { return true; }
  void KeepAlive() override {}
  std::string Rendezvous(const std::string& blob) override {
    if (blob.empty()) return relayed_.get();
    relay_->set_value(blob);
    return blob;
  }

 private:
  std::shared_ptr<std::promise<std::string>> relay_;
  std::shared_future<std::string> relayed_;
};

// A gang of `size` threads joined in memory, or with `tcp` by ConnectGang over 127.0.0.1.
StepFigures RunGangOf(const std::string& backbone, int size, bool tcp) {
  torch::set_num_threads(1);
  std::vector<std::unique_ptr<Communicator>> group =
      tcp ? std::vector<std::unique_ptr<Communicator>>(static_cast<size_t>(size))
          : MakeLocalGroup(size);
  auto relay = std::make_shared<std::promise<std::string>>();
  const std::shared_future<std::string> relayed = relay->get_future().share();
  std::vector<StepFigures> figures(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      GangInfo info;
      info.size = size;
      info.rank = r;
      info.key = "bench";
      info.advertise_host = "127.0.0.1";
      RelayContext context(relay, relayed);
      std::unique_ptr<Communicator>& mine = group[static_cast<size_t>(r)];
      if (tcp) mine = ConnectGang(info, context, torch::Device(torch::kCPU));
      Gang gang(info, std::move(mine));
      figures[static_cast<size_t>(r)] = RunMember(backbone, gang);
    });
  }
  for (std::thread& t : threads) t.join();
  return figures[0];
}

// On a thread of its own, as the gang's members are: glibc's allocator serves the main thread from
// its main arena, whose trimming made the same steps up to 5x slower there on the measuring
// machine (bench/trainer/README.md).
StepFigures RunAlone(const std::string& backbone, int threads) {
  torch::set_num_threads(threads);
  StepFigures figures;
  std::thread worker([&] {
    Gang alone;
    figures = RunMember(backbone, alone);
  });
  worker.join();
  return figures;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("gang step time against one worker on the CPU", "[.][gang-bench][worker]") {
  const char* reps_env = std::getenv("ENSWEEP_BENCH_REPS");
  const int reps = reps_env ? std::max(1, std::atoi(reps_env)) : 5;
  std::printf("global batch %d at %dx%d (w x h), %d warm-up + %d timed steps, median of %d runs\n",
              kBatch, kWidth, kHeight, kWarmup, kSteps, reps);
  std::printf(
      "| model | setup | s/step (median) | all-reduce s/step | all-reduce MB/step | runs |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const std::string backbone : {"custom_cnn", "resnet18"}) {
    struct Setup {
      std::string name;
      std::function<StepFigures()> run;
    };
    const std::vector<Setup> setups = {
        {"1 worker, 1 thread", [&] { return RunAlone(backbone, 1); }},
        {"1 worker, 2 threads", [&] { return RunAlone(backbone, 2); }},
        {"gang of 2 (local), 1 thread each", [&] { return RunGangOf(backbone, 2, false); }},
        {"gang of 2 (tcp), 1 thread each", [&] { return RunGangOf(backbone, 2, true); }},
    };
    for (const Setup& setup : setups) {
      std::vector<double> step, reduce, bytes;
      std::string runs;
      for (int r = 0; r < reps; ++r) {
        const StepFigures f = setup.run();
        step.push_back(f.seconds_per_step);
        reduce.push_back(f.allreduce_seconds_per_step);
        bytes.push_back(f.allreduce_bytes_per_step);
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%s%.3f", r ? " " : "", f.seconds_per_step);
        runs += buffer;
      }
      std::printf("| %s | %s | %.3f | %.4f | %.2f | %s |\n", backbone.c_str(), setup.name.c_str(),
                  Median(step), Median(reduce), Median(bytes) / 1e6, runs.c_str());
    }
  }
}

}  // namespace ensweep
