// The coordinator with TPE, pruners and budgets, over in-process workers running the built-in
// objectives: the real worker loop, transport protocol and SQLite store, without torch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <tuple>

#include "objective_harness.h"

using namespace ensweep;
using ensweep::testing::ObjectiveHarness;
using ensweep::testing::ObjectiveStudy;

namespace {

const Json kCurveSpace = {{"lr", {{"log_uniform", {1e-4, 1e-1}}}},
                          {"width", {{"int", {16, 256}}, {"step", 16}}},
                          {"optimizer", {{"choice", {"sgd", "adam", "adamw"}}}}};
const Json kBraninSpace = {{"x1", {{"uniform", {-5, 10}}}}, {"x2", {{"uniform", {0, 15}}}}};

StudySpec Parse(const Json& doc) { return ParseStudy(doc, "test", "/"); }

using Outcome = std::tuple<Json, std::string, int, double>;

std::vector<Outcome> Outcomes(Store& store) {
  std::vector<Outcome> outcomes;
  for (const auto& t : store.Trials(1)) {
    outcomes.emplace_back(t.params, TrialStateName(t.state), t.epochs_done, t.value.value_or(-1));
  }
  return outcomes;
}

}  // namespace

TEST_CASE("ASHA stops curve trials at its rungs and the store records them PRUNED",
          "[orchestrator][search]") {
  Json doc = ObjectiveStudy("curve", kCurveSpace, 24, 9);
  doc["pruner"] = {{"type", "asha"}, {"min_epochs", 1}, {"reduction", 3}};
  // Random proposals: with TPE, later trials improve on earlier ones and so are promoted more
  // often, which is right for ASHA but makes the epochs spent depend on the sampler's quality.
  doc["sampler"]["type"] = "random";
  const StudySpec spec = Parse(doc);
  ObjectiveHarness harness(spec, 1);
  const RunSummary summary = harness.Run();
  CHECK(summary.trials == 24);
  CHECK(summary.pruned > 0);
  CHECK(summary.complete + summary.pruned == 24);
  int epochs_spent = 0;
  for (const auto& t : harness.store().Trials(summary.study_id)) {
    const auto epochs = harness.store().Epochs(t.id);
    epochs_spent += t.epochs_done;
    CHECK(static_cast<int>(epochs.size()) == t.epochs_done);
    REQUIRE(t.value);
    // objective.scope best (the default): the best reported objective, pruned or not.
    double best = epochs.front().metrics.at("value");
    for (const auto& e : epochs) best = std::max(best, e.metrics.at("value"));
    CHECK(*t.value == best);
    if (t.state == TrialState::kPruned) {
      CHECK((t.epochs_done == 1 || t.epochs_done == 3));
    } else {
      CHECK(t.state == TrialState::kComplete);
      CHECK(t.epochs_done == 9);
    }
  }
  INFO("epochs spent " << epochs_spent);
  CHECK(epochs_spent < 24 * 9 / 2);
  // Pruned trials never lead the leaderboard.
  for (const auto& t : harness.store().TopTrials(summary.study_id, true, 0))
    CHECK(t.state == TrialState::kComplete);
}

TEST_CASE("a resumed TPE + ASHA study proposes and prunes exactly as an uninterrupted one",
          "[orchestrator][search]") {
  for (const char* pruner : {"asha", "hyperband", "median"}) {
    Json doc = ObjectiveStudy("curve", kCurveSpace, 20, 9);
    doc["pruner"] = {{"type", pruner}, {"startup_trials", 3}};
    std::vector<Outcome> whole;
    {
      ObjectiveHarness harness(Parse(doc), 1);
      harness.Run();
      whole = Outcomes(harness.store());
    }
    doc = ObjectiveStudy("curve", kCurveSpace, 20, 9);
    doc["pruner"] = {{"type", pruner}, {"startup_trials", 3}};
    const StudySpec split = Parse(doc);
    {
      ObjectiveHarness first(split, 1);
      CoordinatorOptions options;
      options.trials = 13;  // past the 10 startup trials: the resumed part is model-based
      CHECK(first.Run(options).trials == 13);
    }
    ObjectiveHarness second(split, 1);
    const RunSummary summary = second.Run();
    CHECK(summary.finished_this_run == 7);
    INFO("pruner " << pruner);
    CHECK(Outcomes(second.store()) == whole);
    int pruned = 0;
    for (const auto& o : whole) pruned += std::get<1>(o) == "PRUNED";
    CHECK(pruned > 0);
  }
}

TEST_CASE("a target value stops the study at the first trial that reaches it",
          "[orchestrator][search]") {
  Json doc = ObjectiveStudy("branin", kBraninSpace, 200, 1);
  doc["budget"]["target"] = 1.5;
  ObjectiveHarness harness(Parse(doc), 1);
  const RunSummary summary = harness.Run();
  CHECK(summary.stop_reason == "target value reached");
  const auto trials = harness.store().Trials(summary.study_id);
  REQUIRE(trials.size() < 200);
  for (size_t i = 0; i + 1 < trials.size(); ++i) CHECK(*trials[i].value > 1.5);
  CHECK(*trials.back().value <= 1.5);
}

TEST_CASE("a larger trial budget extends a finished study", "[orchestrator][search]") {
  const StudySpec spec = Parse(ObjectiveStudy("branin", kBraninSpace, 12, 1));
  std::vector<Json> first_params;
  {
    ObjectiveHarness harness(spec, 2);
    const RunSummary summary = harness.Run();
    CHECK(summary.trials == 12);
    for (const auto& t : harness.store().Trials(1)) first_params.push_back(t.params);
  }
  ObjectiveHarness more(spec, 2);
  CoordinatorOptions options;
  options.trials = 20;
  const RunSummary summary = more.Run(options);
  CHECK(summary.trials == 20);
  CHECK(summary.finished_this_run == 8);
  CHECK(summary.complete == 20);
  const auto trials = more.store().Trials(1);
  for (size_t i = 0; i < first_params.size(); ++i) CHECK(trials[i].params == first_params[i]);
}

TEST_CASE("parallel workers under TPE receive distinct proposals", "[orchestrator][search]") {
  Json doc = ObjectiveStudy("branin", kBraninSpace, 40, 2);
  doc["trainer"]["epoch_time"] = 0.005;
  ObjectiveHarness harness(Parse(doc), 4);
  const RunSummary summary = harness.Run();
  CHECK(summary.complete == 40);
  std::set<Json> distinct;
  std::set<std::string> workers;
  for (const auto& t : harness.store().Trials(1)) {
    distinct.insert(t.params);
    workers.insert(t.worker);
  }
  CHECK(distinct.size() == 40);
  CHECK(workers.size() == 4);
}
