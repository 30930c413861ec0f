#include <catch2/catch.hpp>
#include <cmath>

#include "core/error.h"
#include "objectives/functions.h"
#include "objectives/objective_trainer.h"

using namespace ensweep;

namespace {

StudySpec CurveStudy() {
  const Json doc = {
      {"study", "c"},
      {"trainer", {{"type", "curve"}, {"noise", 0.0}}},
      {"budget", {{"epochs", 12}}},
      {"space", {{"lr", {{"log_uniform", {1e-4, 1e-1}}}}, {"opt", {{"choice", {"sgd", "adam"}}}}}}};
  return ParseStudy(doc, "test", "/");
}

// Records reports; answers STOP after `stop_after` epochs.
class RecordingContext : public TrialContext {
 public:
  explicit RecordingContext(int stop_after) : stop_after_(stop_after) {}
  bool ReportEpoch(const EpochReport& report) override {
    reports.push_back(report);
    return report.epoch < stop_after_;
  }
  void KeepAlive() override {}
  std::vector<EpochReport> reports;

 private:
  int stop_after_;
};

}  // namespace

TEST_CASE("Branin and Hartmann6 take their known minima at their minimisers", "[objectives]") {
  CHECK(Branin(-M_PI, 12.275) == Approx(kBraninMinimum).epsilon(1e-6));
  CHECK(Branin(M_PI, 2.275) == Approx(kBraninMinimum).epsilon(1e-6));
  CHECK(Branin(9.42478, 2.475) == Approx(kBraninMinimum).epsilon(1e-5));
  CHECK(Hartmann6({0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}) ==
        Approx(kHartmann6Minimum).epsilon(1e-5));
  CHECK(Hartmann6({0.5, 0.5, 0.5, 0.5, 0.5, 0.5}) > kHartmann6Minimum);
}

TEST_CASE("the curve simulator's final value depends on the parameters and curves rise",
          "[objectives]") {
  const StudySpec spec = CurveStudy();
  const CurveSimulator simulator(spec.space, 0.0);
  const Json a = {{"lr", 1e-3}, {"opt", "sgd"}}, b = {{"lr", 5e-2}, {"opt", "adam"}};
  CHECK(simulator.FinalValue(a) != simulator.FinalValue(b));
  CHECK(simulator.FinalValue(a) <= 0.95);
  const auto curve = simulator.Curve(a, 12, 7);
  for (size_t e = 1; e < curve.size(); ++e) CHECK(curve[e] > curve[e - 1]);
  CHECK(curve.back() == Approx(simulator.FinalValue(a)).margin(0.1));
  const CurveSimulator noisy(spec.space, 0.05);
  CHECK(noisy.Curve(a, 12, 7) == noisy.Curve(a, 12, 7));
  CHECK(noisy.Curve(a, 12, 7) != noisy.Curve(a, 12, 8));
  // Without noise the curve is its clean value; with noise it scatters around it.
  for (int e = 1; e <= 12; ++e) CHECK(curve[e - 1] == simulator.CleanValue(a, e));
  const auto scattered = noisy.Curve(a, 12, 7);
  double off = 0;
  for (int e = 1; e <= 12; ++e) off += std::abs(scattered[e - 1] - simulator.CleanValue(a, e));
  CHECK(off > 0);
  CHECK(off / 12 < 0.2);  // mean |noise| for sd 0.05 is 0.04
}

TEST_CASE("an objective trainer reports every epoch under the objective metric and honours STOP",
          "[objectives]") {
  StudySpec spec = CurveStudy();
  spec.objective.metric = "val_accuracy";
  auto trainer = MakeObjectiveTrainer(spec);
  TrialRequest request;
  request.params = {{"lr", 1e-3}, {"opt", "sgd"}};
  request.epochs = 12;
  RecordingContext full(100);
  const TrialResult result = trainer->Run(request, full);
  CHECK(full.reports.size() == 12);
  CHECK_FALSE(result.stopped_early);
  CHECK(result.metrics.at("val_accuracy") == full.reports.back().metrics.at("val_accuracy"));
  // The epoch travels beside the metrics (EpochReport::epoch), not as one of them.
  CHECK(full.reports.back().epoch == 12);
  CHECK(full.reports.back().metrics.count("epoch") == 0);
  // The clean value rides along, so a benchmark can judge a trial without its noise.
  StudySpec noisy_spec = spec;
  noisy_spec.trainer.noise = 0.05;
  RecordingContext noisy(100);
  MakeObjectiveTrainer(noisy_spec)->Run(request, noisy);
  const CurveSimulator simulator(noisy_spec.space, 0.0);
  int differ = 0;
  for (const auto& report : noisy.reports) {
    CHECK(report.metrics.at("noiseless") == simulator.CleanValue(request.params, report.epoch));
    if (report.metrics.at("val_accuracy") != report.metrics.at("noiseless")) ++differ;
  }
  CHECK(differ == 12);
  RecordingContext stopped(3);
  const TrialResult early = trainer->Run(request, stopped);
  CHECK(stopped.reports.size() == 3);
  CHECK(early.stopped_early);
  CHECK(early.epochs_completed == 3);
}

TEST_CASE("objective studies need no data block and round-trip through the stored spec",
          "[objectives][study]") {
  const Json doc = {{"study", "b"},
                    {"trainer", {{"type", "branin"}, {"epoch_time", "2s"}}},
                    {"budget", {{"target", 0.5}}},
                    {"sampler", {{"type", "tpe"}, {"multivariate", true}, {"candidates", 32}}},
                    {"pruner", {{"type", "hyperband"}, {"reduction", 2}}},
                    {"space", {{"x1", {{"uniform", {-5, 10}}}}, {"x2", {{"uniform", {0, 15}}}}}}};
  const StudySpec spec = ParseStudy(doc, "test", "/");
  CHECK(spec.trainer.type == TrainerType::kBranin);
  CHECK(spec.trainer.epoch_time_s == 2.0);
  CHECK(spec.budget.target == 0.5);
  CHECK(spec.sampler.multivariate);
  const StudySpec back = StudyFromJson(spec.ToJson());
  CHECK(back.ToJson() == spec.ToJson());
  CHECK(back.sampler.candidates == 32);
  CHECK(back.pruner.type == PrunerType::kHyperband);
  Json torch = doc;
  torch["trainer"]["type"] = "torch";
  CHECK_THROWS_AS(ParseStudy(torch, "test", "/"), UserError);  // torch needs data
  Json bad = doc;
  bad["trainer"]["type"] = "rosenbrock";
  CHECK_THROWS_WITH(ParseStudy(bad, "f.yaml", "/"), Catch::Contains("'trainer.type'"));
  bad = doc;
  bad["sampler"]["gamma"] = 1.5;
  CHECK_THROWS_WITH(ParseStudy(bad, "f.yaml", "/"), Catch::Contains("'sampler.gamma'"));
}

TEST_CASE(
    "an objective trainer's result is its best epoch's under scope best, its last's under "
    "scope last",
    "[objectives]") {
  StudySpec spec = CurveStudy();
  spec.trainer.noise = 0.2;  // noisy enough that the curve's best epoch is not its last
  TrialRequest request;
  request.params = {{"lr", 1e-3}, {"opt", "sgd"}};
  request.epochs = 12;
  request.seed = 3;
  RecordingContext best_context(100), last_context(100);
  const TrialResult best = MakeObjectiveTrainer(spec)->Run(request, best_context);
  spec.objective.best_epoch = false;
  const TrialResult last = MakeObjectiveTrainer(spec)->Run(request, last_context);
  REQUIRE(best_context.reports.size() == 12);
  size_t peak = 0;
  for (size_t e = 1; e < 12; ++e) {
    if (best_context.reports[e].metrics.at("val_accuracy") >
        best_context.reports[peak].metrics.at("val_accuracy")) {
      peak = e;
    }
  }
  REQUIRE(peak + 1 < 12);  // the scenario: the objective peaks before the last epoch
  CHECK(best.metrics.at("best_epoch") == static_cast<double>(peak + 1));
  CHECK(best.metrics.at("val_accuracy") == best_context.reports[peak].metrics.at("val_accuracy"));
  CHECK(best.metrics.at("noiseless") == best_context.reports[peak].metrics.at("noiseless"));
  CHECK(last.metrics == last_context.reports.back().metrics);
  CHECK(last.metrics.count("best_epoch") == 0);
}
