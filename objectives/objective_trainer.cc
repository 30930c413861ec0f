#include "objectives/objective_trainer.h"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "objectives/functions.h"

namespace ensweep {
namespace {

double Numeric(const Json& params, const std::string& name, const std::string& objective) {
  const auto it = params.find(name);
  if (it == params.end() || !it->is_number()) {
    throw std::invalid_argument("the " + objective + " objective needs a numeric parameter '" +
                                name + "'");
  }
  return it->get<double>();
}

class ObjectiveTrainer : public Trainer {
 public:
  explicit ObjectiveTrainer(const StudySpec& spec)
      : type_(OptionName(spec.trainer.type)),
        metric_(spec.objective.metric),
        maximize_(spec.objective.maximize),
        best_epoch_(spec.objective.best_epoch),
        epoch_time_s_(spec.trainer.epoch_time_s),
        curve_(spec.space, spec.trainer.noise) {}

  TrialResult Run(const TrialRequest& request, TrialContext& context) override {
    const std::vector<double> values = Values(request);
    TrialResult result;
    MetricMap best;
    int best_epoch = 0;
    for (int epoch = 1; epoch <= request.epochs; ++epoch) {
      if (epoch_time_s_ > 0) Sleep(context);
      const double value = values[static_cast<size_t>(epoch - 1)];
      result.metrics = {{metric_, value}};
      // The simulator also says what the trial is really worth at this epoch, so benchmarks can
      // judge the trial a study picks without the luck of its noise.
      if (type_ == "curve") result.metrics["noiseless"] = curve_.CleanValue(request.params, epoch);
      result.epochs_completed = epoch;
      if (best_epoch == 0 || (maximize_ ? value > best.at(metric_) : value < best.at(metric_))) {
        best = result.metrics;
        best_epoch = epoch;
      }
      if (!context.ReportEpoch(EpochReport{epoch, result.metrics})) {
        result.stopped_early = true;
        break;
      }
    }
    if (best_epoch_ && best_epoch > 0) {
      result.metrics = best;
      result.metrics["best_epoch"] = best_epoch;
    }
    return result;
  }

  std::string Device() const override { return "objective:" + type_; }

 private:
  std::vector<double> Values(const TrialRequest& request) const {
    const auto epochs = static_cast<size_t>(request.epochs);
    if (type_ == "branin") {
      return std::vector<double>(epochs, Branin(Numeric(request.params, "x1", type_),
                                                Numeric(request.params, "x2", type_)));
    }
    if (type_ == "hartmann6") {
      std::array<double, 6> x;
      for (size_t i = 0; i < 6; ++i)
        x[i] = Numeric(request.params, "x" + std::to_string(i + 1), type_);
      return std::vector<double>(epochs, Hartmann6(x));
    }
    return curve_.Curve(request.params, request.epochs, request.seed);
  }

  // Waits one epoch's time in short slices, keeping the worker's heartbeat alive.
  void Sleep(TrialContext& context) const {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(epoch_time_s_));
    while (true) {
      const Clock::duration left = end - Clock::now();
      if (left <= Clock::duration::zero()) break;
      std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::seconds(1)));
      context.KeepAlive();
    }
  }

  std::string type_, metric_;
  bool maximize_, best_epoch_;
  double epoch_time_s_;
  CurveSimulator curve_;
};

}  // namespace

std::unique_ptr<Trainer> MakeObjectiveTrainer(const StudySpec& spec) {
  const std::string type = OptionName(spec.trainer.type);
  if (type != "branin" && type != "hartmann6" && type != "curve") {
    throw std::invalid_argument("trainer type '" + type + "' is not a built-in objective");
  }
  return std::make_unique<ObjectiveTrainer>(spec);
}

}  // namespace ensweep
