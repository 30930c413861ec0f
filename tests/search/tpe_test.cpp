#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "objectives/functions.h"
#include "search/parzen.h"
#include "search/sampler.h"

using namespace ensweep;

namespace {

// A study as the parser makes it (so multivariate gets its own default candidate count).
StudySpec TpeSpec(const std::string& space_json, uint64_t seed, bool minimize = true,
                  const std::string& type = "tpe", bool multivariate = false) {
  const Json doc = {
      {"study", "tpe"},
      {"trainer", {{"type", "branin"}}},
      {"objective", {{"metric", "value"}, {"direction", minimize ? "minimize" : "maximize"}}},
      {"sampler", {{"type", type}, {"seed", seed}, {"multivariate", multivariate}}},
      {"space", Json::parse(space_json)}};
  return ParseStudy(doc, "test", "/");
}

const char* kBraninSpace = R"({"x1": {"uniform": [-5, 10]}, "x2": {"uniform": [0, 15]}})";

TrialRecord Finished(int64_t number, const Json& params, double value) {
  TrialRecord t;
  t.number = number;
  t.params = params;
  t.state = TrialState::kComplete;
  t.value = value;
  return t;
}

// Best Branin value after `trials` sequential proposals of the given sampler.
double BestOnBranin(const StudySpec& spec, int trials) {
  auto sampler = MakeSampler(spec);
  std::vector<TrialRecord> history;
  double best = INFINITY;
  for (int n = 0; n < trials; ++n) {
    const Json params = sampler->Propose(n, Json::object(), history);
    const double value = Branin(params["x1"].get<double>(), params["x2"].get<double>());
    best = std::min(best, value);
    history.push_back(Finished(n, params, value));
  }
  return best;
}

// Best Hartmann6 value after `trials` sequential proposals (parameters x1..x6 in [0, 1]).
double BestOnHartmann6(const StudySpec& spec, int trials) {
  auto sampler = MakeSampler(spec);
  std::vector<TrialRecord> history;
  double best = INFINITY;
  for (int n = 0; n < trials; ++n) {
    const Json params = sampler->Propose(n, Json::object(), history);
    std::array<double, 6> x;
    for (size_t i = 0; i < 6; ++i) x[i] = params["x" + std::to_string(i + 1)].get<double>();
    const double value = Hartmann6(x);
    best = std::min(best, value);
    history.push_back(Finished(n, params, value));
  }
  return best;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

TEST_CASE("TPE beats random search on Branin over the median of several seeds", "[search][tpe]") {
  std::vector<double> tpe, random;
  for (uint64_t seed = 0; seed < 9; ++seed) {
    tpe.push_back(BestOnBranin(TpeSpec(kBraninSpace, seed), 60) - kBraninMinimum);
    random.push_back(BestOnBranin(TpeSpec(kBraninSpace, seed, true, "random"), 60) -
                     kBraninMinimum);
  }
  INFO("median regret: tpe " << Median(tpe) << ", random " << Median(random));
  CHECK(Median(tpe) < Median(random));
  CHECK(Median(tpe) < 0.2);
}

TEST_CASE("TPE proposals are a deterministic function of seed, number and history",
          "[search][tpe]") {
  const StudySpec spec = TpeSpec(kBraninSpace, 3);
  std::vector<TrialRecord> history;
  for (int n = 0; n < 15; ++n) {
    const Json p = MakeSampler(spec)->Propose(n, Json::object(), history);
    history.push_back(Finished(n, p, Branin(p["x1"].get<double>(), p["x2"].get<double>())));
  }
  CHECK(MakeSampler(spec)->Propose(15, Json::object(), history) ==
        MakeSampler(spec)->Propose(15, Json::object(), history));
  CHECK(MakeSampler(spec)->Propose(15, Json::object(), history) !=
        MakeSampler(spec)->Propose(16, Json::object(), history));
}

TEST_CASE("TPE proposals do not depend on the order of the history", "[search][tpe]") {
  const StudySpec spec = TpeSpec(kBraninSpace, 5);
  std::vector<TrialRecord> history;
  for (int n = 0; n < 40; ++n) {
    const Json p = MakeSampler(spec)->Propose(n, Json::object(), history);
    history.push_back(Finished(n, p, Branin(p["x1"].get<double>(), p["x2"].get<double>())));
  }
  const Json in_order = MakeSampler(spec)->Propose(40, Json::object(), history);
  std::vector<TrialRecord> reversed(history.rbegin(), history.rend());
  CHECK(MakeSampler(spec)->Propose(40, Json::object(), reversed) == in_order);
  std::vector<TrialRecord> interleaved;
  for (size_t i = 0; i < history.size(); i += 2) interleaved.push_back(history[i]);
  for (size_t i = 1; i < history.size(); i += 2) interleaved.push_back(history[i]);
  CHECK(MakeSampler(spec)->Propose(40, Json::object(), interleaved) == in_order);
}

TEST_CASE("TPE startup trials are exactly the random sampler's proposals", "[search][tpe]") {
  const StudySpec tpe = TpeSpec(kBraninSpace, 4);
  const StudySpec random = TpeSpec(kBraninSpace, 4, true, "random");
  for (int n = 0; n < 10; ++n) {
    CHECK(MakeSampler(tpe)->Propose(n, Json::object(), {}) ==
          MakeSampler(random)->Propose(n, Json::object(), {}));
  }
}

TEST_CASE("TPE samples conditional parameters only when their condition holds", "[search][tpe]") {
  const StudySpec spec = TpeSpec(R"({
    "head": {"choice": ["single", "multitask"]},
    "weight": {"uniform": [0.5, 3.0], "when": {"head": "multitask"}},
    "swa": {"choice": [false, true]},
    "swa_start": {"int": [2, 8], "when": {"swa": true}},
    "batch": {"int": [16, 256], "step": 16},
    "width": {"int": [1, 1024], "log": true},
    "lr": {"log_uniform": [1e-5, 1e-1]},
    "momentum": 0.9})",
                                 7, false);
  auto sampler = MakeSampler(spec);
  std::vector<TrialRecord> history;
  std::set<Json> heads;
  for (int n = 0; n < 60; ++n) {
    const Json p = sampler->Propose(n, Json::object(), history);
    CHECK(p.contains("weight") == (p["head"] == "multitask"));
    CHECK(p.contains("swa_start") == (p["swa"] == true));
    if (p.contains("weight")) CHECK((p["weight"] >= 0.5 && p["weight"] <= 3.0));
    if (p.contains("swa_start")) CHECK((p["swa_start"] >= 2 && p["swa_start"] <= 8));
    CHECK(p["batch"].is_number_integer());
    CHECK(p["batch"].get<int64_t>() % 16 == 0);
    CHECK((p["batch"] >= 16 && p["batch"] <= 256));
    CHECK((p["width"] >= 1 && p["width"] <= 1024));
    CHECK((p["lr"] >= 1e-5 && p["lr"] <= 1e-1));
    CHECK(p["momentum"] == 0.9);
    heads.insert(p["head"]);
    // A score that prefers multitask heads with weight near 2 and a large lr.
    double score = std::log10(p["lr"].get<double>());
    if (p["head"] == "multitask") score += 3 - std::abs(p["weight"].get<double>() - 2.0);
    history.push_back(Finished(n, p, score));
  }
  CHECK(heads.size() == 2);
  // After the startup trials TPE favours the better branch.
  int multitask_late = 0;
  for (int n = 40; n < 60; ++n)
    multitask_late += history[static_cast<size_t>(n)].params["head"] == "multitask";
  CHECK(multitask_late >= 14);
}

TEST_CASE("TPE keeps an enqueued trial's fixed values", "[search][tpe]") {
  const StudySpec spec = TpeSpec(kBraninSpace, 1);
  std::vector<TrialRecord> history;
  for (int n = 0; n < 12; ++n)
    history.push_back(Finished(n, {{"x1", n * 0.5}, {"x2", n * 1.0}}, n));
  const Json p = MakeSampler(spec)->Propose(12, {{"x1", 2.5}}, history);
  CHECK(p["x1"] == 2.5);
  CHECK((p["x2"] >= 0 && p["x2"] <= 15));
}

TEST_CASE("parallel TPE proposals are distinct and avoid running trials", "[search][tpe]") {
  for (bool multivariate : {false, true}) {
    const StudySpec spec = TpeSpec(kBraninSpace, 9, true, "tpe", multivariate);
    auto sampler = MakeSampler(spec);
    std::vector<TrialRecord> history;
    for (int n = 0; n < 30; ++n) {
      const Json p = sampler->Propose(n, Json::object(), history);
      history.push_back(Finished(n, p, Branin(p["x1"].get<double>(), p["x2"].get<double>())));
    }
    // Eight workers ask at once: each proposal sees the earlier ones as RUNNING.
    std::vector<Json> proposals;
    for (int n = 30; n < 38; ++n) {
      TrialRecord running;
      running.number = n;
      running.state = TrialState::kRunning;
      running.params = sampler->Propose(n, Json::object(), history);
      proposals.push_back(running.params);
      history.push_back(running);
    }
    double closest = INFINITY;
    for (size_t i = 0; i < proposals.size(); ++i) {
      for (size_t j = i + 1; j < proposals.size(); ++j) {
        const double dx =
            (proposals[i]["x1"].get<double>() - proposals[j]["x1"].get<double>()) / 15;
        const double dy =
            (proposals[i]["x2"].get<double>() - proposals[j]["x2"].get<double>()) / 15;
        closest = std::min(closest, std::hypot(dx, dy));
      }
    }
    INFO("multivariate " << multivariate << ": closest pair " << closest);
    CHECK(closest > 1e-3);
  }
}

TEST_CASE("multivariate TPE learns a choice that leads the joint space", "[search][tpe]") {
  // The first joint dimension is categorical, so candidates start from a kernel drawn without a
  // numeric estimator's help; the best choice is "b", then x near 0.3.
  const StudySpec spec = TpeSpec(
      R"({"opt": {"choice": ["a", "b", "c"]}, "x": {"uniform": [0, 1]}})", 5, true, "tpe", true);
  auto sampler = MakeSampler(spec);
  std::vector<TrialRecord> history;
  int late_b = 0;
  for (int n = 0; n < 60; ++n) {
    const Json p = sampler->Propose(n, Json::object(), history);
    const double x = p["x"].get<double>();
    REQUIRE((x >= 0 && x <= 1));
    const bool b = p["opt"] == "b";
    if (n >= 40 && b) ++late_b;
    history.push_back(Finished(n, p, (b ? 0.0 : 1.0) + (x - 0.3) * (x - 0.3)));
  }
  INFO("'b' in " << late_b << " of the last 20 proposals");
  CHECK(late_b >= 14);  // random search: 1 in 3
}

TEST_CASE("multivariate TPE also beats random search on Branin", "[search][tpe]") {
  std::vector<double> tpe, random;
  for (uint64_t seed = 0; seed < 7; ++seed) {
    const StudySpec spec = TpeSpec(kBraninSpace, seed, true, "tpe", true);
    REQUIRE(spec.sampler.candidates == SamplerSpec::kMultivariateCandidates);
    tpe.push_back(BestOnBranin(spec, 50) - kBraninMinimum);
    random.push_back(BestOnBranin(TpeSpec(kBraninSpace, seed, true, "random"), 50) -
                     kBraninMinimum);
  }
  INFO("median regret: tpe " << Median(tpe) << ", random " << Median(random));
  CHECK(Median(tpe) < Median(random));
}

TEST_CASE("Parzen kernels are normalised, or weighted by bandwidth when scoring", "[search][tpe]") {
  const std::vector<double> points = {0.3, -2.0, 7.5, 7.9, 1.0};
  const std::vector<double> equal(points.size(), 1.0);
  const NumericParzen density(points, equal, -5, 10);
  const NumericParzen score(points, equal, -5, 10, 1.0, 0, true);
  // The normalised mixture integrates to 1 over [low, high] (midpoint rule).
  double integral = 0;
  const int steps = 20000;
  for (int i = 0; i < steps; ++i)
    integral += std::exp(density.LogPdf(-5 + 15.0 * (i + 0.5) / steps));
  CHECK(integral * 15.0 / steps == Approx(1.0).epsilon(1e-4));
  // Each kernel's score is its log density plus log(sigma), and the mixture's score is the log of
  // the mixture with weights proportional to weight * sigma.
  const std::vector<double> weights = {1, 1, 1, 1, 1, 1};  // five observations and the prior
  for (double x : {-4.9, 0.0, 2.5, 7.7, 9.99}) {
    double mixed = 0, total = 0;
    for (size_t k = 0; k < density.kernels(); ++k) {
      CHECK(score.KernelLogPdf(k, x) ==
            Approx(density.KernelLogPdf(k, x) + std::log(density.Sigma(k))).margin(1e-12));
      mixed += weights[k] * density.Sigma(k) * std::exp(density.KernelLogPdf(k, x));
      total += weights[k];
    }
    CHECK(score.LogPdf(x) == Approx(std::log(mixed / total)).margin(1e-9));
  }
  // The prior kernel alone: bandwidth = width, so the score is the density times 15.
  const NumericParzen prior_only({}, {}, -5, 10, 1.0, 0, true);
  const NumericParzen prior_density({}, {}, -5, 10);
  CHECK(prior_only.LogPdf(1.0) == Approx(prior_density.LogPdf(1.0) + std::log(15.0)));
}

TEST_CASE("TPE's median regret after 100 trials on Branin and Hartmann6 over 21 seeds",
          "[search][tpe]") {
  // Deterministic: these are fixed numbers for this sampler. With normalised kernels and 24
  // candidates the medians were 0.054 and 0.405; bandwidth-weighted kernels and 6 candidates gave
  // 0.026 and 0.209; 4 candidates, gamma 15 % and equal weights 0.018 and 0.094; refining the
  // minimum bandwidth after 12 trials per parameter (the present defaults) gives the figures
  // printed below, and without it (Optuna's clip throughout) the Branin figure is 0.018 again.
  const char* hartmann_space = R"({"x1": {"uniform": [0, 1]}, "x2": {"uniform": [0, 1]},
      "x3": {"uniform": [0, 1]}, "x4": {"uniform": [0, 1]}, "x5": {"uniform": [0, 1]},
      "x6": {"uniform": [0, 1]}})";
  std::vector<double> branin, branin_clip, hartmann;
  for (uint64_t seed = 0; seed < 21; ++seed) {
    branin.push_back(BestOnBranin(TpeSpec(kBraninSpace, seed), 100) - kBraninMinimum);
    StudySpec clip = TpeSpec(kBraninSpace, seed);
    clip.sampler.refine_after_per_param = 0;
    branin_clip.push_back(BestOnBranin(clip, 100) - kBraninMinimum);
    hartmann.push_back(BestOnHartmann6(TpeSpec(hartmann_space, seed), 100) - kHartmann6Minimum);
  }
  INFO("median regret: Branin " << Median(branin) << " (Optuna's clip throughout "
                                << Median(branin_clip) << "), Hartmann6 " << Median(hartmann));
  CHECK(Median(branin) < 0.008);
  CHECK(Median(branin) < 0.5 * Median(branin_clip));
  CHECK(Median(hartmann) < 0.15);
}

TEST_CASE("the minimum bandwidth scales with min_bandwidth_scale", "[search][tpe]") {
  // Two observations 0.01 apart on [0, 10]: their neighbour distances are below the clip, so both
  // kernels get the clip, width / min(100, n + 2) = 2.5, times the scale.
  const std::vector<double> points = {5.0, 5.01};
  const std::vector<double> equal(points.size(), 1.0);
  for (double scale : {1.0, 0.5, 0.1}) {
    const NumericParzen density(points, equal, 0, 10, 1.0, 0, true, scale);
    CHECK(density.Sigma(0) == Approx(2.5 * scale));
    CHECK(density.Sigma(1) == Approx(2.5 * scale));
    CHECK(density.Sigma(2) == Approx(10.0));  // the prior keeps the whole width
  }
  // A fixed bandwidth (multivariate) below the clip is raised to it.
  const NumericParzen fixed(points, equal, 0, 10, 1.0, 0.2, true, 0.5);
  CHECK(fixed.Sigma(0) == Approx(1.25));
}
