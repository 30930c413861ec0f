// A trainer for coordinator tests: no torch, instant, deterministic in its parameters.
#pragma once

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "core/trainer.h"

namespace ensweep::testing {

// Reports val_macro_f1 = 1 - |lr - 0.01| * epoch / epochs. Throws for backbone "broken". Sleeps
// `epoch_ms` per epoch so that tests can interrupt a running trial.
class FakeTrainer : public Trainer {
 public:
  explicit FakeTrainer(int epoch_ms = 0, std::atomic<int>* runs = nullptr)
      : epoch_ms_(epoch_ms), runs_(runs) {}

  TrialResult Run(const TrialRequest& request, TrialContext& context) override {
    if (runs_) ++*runs_;
    if (request.params.value("backbone", "") == "broken") {
      throw std::invalid_argument("unknown backbone 'broken'");
    }
    const double lr = request.params.value("lr", 0.01);
    TrialResult result;
    for (int epoch = 1; epoch <= request.epochs; ++epoch) {
      if (epoch_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(epoch_ms_));
      context.KeepAlive();
      const double value = 1.0 - std::abs(lr - 0.01) * epoch / request.epochs;
      result.metrics = {{"val_macro_f1", value}, {"train_loss", 1.0 / epoch}};
      result.epochs_completed = epoch;
      if (!context.ReportEpoch(EpochReport{epoch, result.metrics})) {
        result.stopped_early = true;
        break;
      }
    }
    return result;
  }

  std::string Device() const override { return "fake"; }

 private:
  int epoch_ms_;
  std::atomic<int>* runs_;
};

}  // namespace ensweep::testing
