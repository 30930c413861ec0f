#include "search/pruner.h"

#include <catch2/catch.hpp>
#include <map>

using namespace ensweep;

namespace {

StudySpec PrunerStudy(const std::string& type, int epochs, bool maximize = true, int min_epochs = 1,
                      int reduction = 3) {
  const Json doc = {
      {"study", "p"},
      {"trainer", {{"type", "curve"}}},
      {"objective", {{"metric", "acc"}, {"direction", maximize ? "maximize" : "minimize"}}},
      {"budget", {{"epochs", epochs}}},
      {"pruner", {{"type", type}, {"min_epochs", min_epochs}, {"reduction", reduction}}},
      {"space", {{"x", {{"uniform", {0, 1}}}}}}};
  return ParseStudy(doc, "test", "/");
}

// Trials 0.. with the given values at epoch 1 (state RUNNING).
Curves AtEpochOne(const std::vector<double>& values) {
  Curves curves;
  for (size_t i = 0; i < values.size(); ++i) curves[static_cast<int64_t>(i)].values[1] = values[i];
  return curves;
}

}  // namespace

TEST_CASE("ASHA rungs follow min_epochs and the reduction factor below the epoch budget",
          "[search][pruner]") {
  CHECK(AshaRungs(1, 3, 9) == std::vector<int>{1, 3});
  CHECK(AshaRungs(1, 3, 27) == std::vector<int>{1, 3, 9});
  CHECK(AshaRungs(2, 2, 16) == std::vector<int>{2, 4, 8});
  CHECK(AshaRungs(1, 3, 9, 1) == std::vector<int>{3});
  CHECK(AshaRungs(1, 3, 1).empty());
}

TEST_CASE("ASHA promotes the top third at a rung and stops the rest", "[search][pruner]") {
  auto asha = MakePruner(PrunerStudy("asha", 9));
  // Six trials at rung epoch 1: keep floor(6/3) = 2, i.e. values >= 0.7.
  const Curves six = AtEpochOne({0.5, 0.6, 0.7, 0.4, 0.8, 0.3});
  CHECK_FALSE(asha->ShouldPrune(4, 1, six));  // 0.8, best
  CHECK_FALSE(asha->ShouldPrune(2, 1, six));  // 0.7, second
  CHECK(asha->ShouldPrune(1, 1, six));        // 0.6
  CHECK(asha->ShouldPrune(5, 1, six));        // 0.3
  // The first trial at a rung is promoted; with fewer than eta it must be the best so far.
  CHECK_FALSE(asha->ShouldPrune(0, 1, AtEpochOne({0.5})));
  CHECK(asha->ShouldPrune(0, 1, AtEpochOne({0.5, 0.6})));
  CHECK_FALSE(asha->ShouldPrune(1, 1, AtEpochOne({0.5, 0.6})));
  // Epoch 2 is no rung, and the last epoch is never pruned.
  Curves deeper = six;
  deeper[5].values[2] = 0.0;
  CHECK_FALSE(asha->ShouldPrune(5, 2, deeper));
  deeper[5].values[9] = 0.0;
  deeper[4].values[9] = 1.0;
  CHECK_FALSE(asha->ShouldPrune(5, 9, deeper));
  // Rung epoch 3 compares only the trials that reached it.
  Curves rung3 = six;
  rung3[4].values[3] = 0.9;
  rung3[2].values[3] = 0.85;
  rung3[0].values[3] = 0.95;
  CHECK(asha->ShouldPrune(2, 3, rung3));
  CHECK_FALSE(asha->ShouldPrune(0, 3, rung3));
}

TEST_CASE("ASHA under minimisation keeps the smallest values", "[search][pruner]") {
  auto asha = MakePruner(PrunerStudy("asha", 9, /*maximize=*/false));
  const Curves six = AtEpochOne({0.5, 0.6, 0.7, 0.4, 0.8, 0.3});
  CHECK_FALSE(asha->ShouldPrune(5, 1, six));
  CHECK_FALSE(asha->ShouldPrune(3, 1, six));
  CHECK(asha->ShouldPrune(0, 1, six));
}

TEST_CASE("the median rule waits for its startup trials, then stops below-median trials",
          "[search][pruner]") {
  StudySpec spec = PrunerStudy("median", 5);
  spec.pruner.startup_trials = 3;
  auto median = MakePruner(spec);
  Curves curves;
  for (int64_t n = 0; n < 2; ++n) {
    curves[n].state = TrialState::kComplete;
    for (int e = 1; e <= 5; ++e) curves[n].values[e] = 0.5 + 0.1 * static_cast<double>(n);
  }
  curves[9].values = {{1, 0.1}, {2, 0.2}};
  CHECK_FALSE(median->ShouldPrune(9, 2, curves));  // only 2 complete trials
  curves[2].state = TrialState::kComplete;
  for (int e = 1; e <= 5; ++e) curves[2].values[e] = 0.7;
  CHECK(median->ShouldPrune(9, 2, curves));  // median at epoch 2 is 0.6
  curves[9].values[1] = 0.65;                // its best so far counts
  CHECK_FALSE(median->ShouldPrune(9, 2, curves));
  curves[9].values = {{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}, {5, 0.1}};
  CHECK_FALSE(median->ShouldPrune(9, 5, curves));  // the last epoch
}

TEST_CASE("hyperband spreads trials over brackets and its last bracket never prunes",
          "[search][pruner]") {
  const StudySpec spec = PrunerStudy("hyperband", 27);  // rungs 1, 3, 9: brackets 0..3
  std::map<int, int> counts;
  for (int64_t n = 0; n < 4000; ++n) ++counts[HyperbandBracket(spec.sampler.seed, n, 4, 3)];
  REQUIRE(counts.size() == 4);
  CHECK(counts[0] > counts[1]);
  CHECK(counts[1] > counts[2]);
  CHECK(counts[2] > counts[3]);
  auto hyperband = MakePruner(spec);
  // Every trial in a bracket other than its own is ignored: a lone trial is promoted at epoch 1.
  Curves curves;
  int64_t last_bracket_trial = -1;
  for (int64_t n = 0; n < 200; ++n) {
    curves[n].values[1] = static_cast<double>(n % 7) / 10;
    curves[n].values[3] = static_cast<double>(n % 5) / 10;
    curves[n].values[9] = static_cast<double>(n % 3) / 10;
    if (HyperbandBracket(spec.sampler.seed, n, 4, 3) == 3) last_bracket_trial = n;
  }
  REQUIRE(last_bracket_trial >= 0);
  for (int e : {1, 3, 9}) CHECK_FALSE(hyperband->ShouldPrune(last_bracket_trial, e, curves));
  int pruned = 0;
  for (int64_t n = 0; n < 200; ++n) pruned += hyperband->ShouldPrune(n, 1, curves);
  CHECK(pruned > 0);
}

TEST_CASE("no pruner never stops a trial", "[search][pruner]") {
  auto none = MakePruner(PrunerStudy("none", 9));
  CHECK_FALSE(none->ShouldPrune(1, 1, AtEpochOne({0.9, 0.0})));
}
