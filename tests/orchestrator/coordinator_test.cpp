#include "orchestrator/coordinator.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/store.h"
#include "fake_trainer.h"
#include "orchestrator/in_process_transport.h"
#include "orchestrator/worker_loop.h"
#include "tests/scratch_dir.h"
#include "worker_harness.h"

namespace fs = std::filesystem;
using namespace ensweep;
using ensweep::testing::FakeTrainer;

namespace {

StudySpec MakeSpec(const std::string& space_json, int64_t trials, int epochs = 2) {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_coord_test", std::to_string(counter++));
  const Json doc = {{"study", "fake"},
                    {"storage", (dir / "s.sqlite").string()},
                    {"artifacts", (dir / "artifacts").string()},
                    {"data", {{"train", "/unused"}}},
                    {"budget", {{"trials", trials}, {"epochs", epochs}}},
                    {"sampler", {{"seed", 11}}},
                    {"resources", {{"heartbeat_timeout", 30}}},
                    {"space", Json::parse(space_json)}};
  return ParseStudy(doc, "test", "/");
}

// Workers with the fake trainer; `epoch_ms` slows each epoch so a test can act mid-trial.
class Harness : public ensweep::testing::WorkerHarness {
 public:
  Harness(const StudySpec& spec, int workers, int epoch_ms = 0)
      : WorkerHarness(spec, workers, [epoch_ms](const StudySpec&) {
          return std::make_unique<FakeTrainer>(epoch_ms);
        }) {}
};

}  // namespace

TEST_CASE("a sweep runs its trial budget across workers and records every epoch",
          "[orchestrator][coordinator]") {
  const StudySpec spec = MakeSpec(R"({"lr": {"log_uniform": [1e-3, 1e-1]}})", 8, 3);
  Harness harness(spec, 2);
  const RunSummary summary = harness.Run();
  CHECK(summary.trials == 8);
  CHECK(summary.complete == 8);
  CHECK_FALSE(summary.interrupted);
  const auto study = harness.store().FindStudy("fake");
  REQUIRE(study);
  const auto trials = harness.store().Trials(study->id);
  REQUIRE(trials.size() == 8);
  std::set<std::string> workers;
  for (const auto& t : trials) {
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.epochs_done == 3);
    REQUIRE(t.value);
    CHECK(*t.value == Approx(1.0 - std::abs(t.params["lr"].get<double>() - 0.01)));
    CHECK(harness.store().Epochs(t.id).size() == 3);
    CHECK(t.seed == TrialSeed(spec, t.number));
    workers.insert(t.worker);
  }
  CHECK(workers.size() == 2);  // both workers got trials
}

TEST_CASE("a trial that throws is FAILED with its error and the sweep goes on",
          "[orchestrator][coordinator]") {
  const StudySpec spec =
      MakeSpec(R"({"backbone": {"choice": ["broken", "ok"]}, "lr": 0.01})", 10, 1);
  Harness harness(spec, 2);
  const RunSummary summary = harness.Run();
  CHECK(summary.trials == 10);
  CHECK(summary.failed > 0);
  CHECK(summary.complete > 0);
  CHECK(summary.failed + summary.complete == 10);
  for (const auto& t : harness.store().Trials(summary.study_id)) {
    if (t.params["backbone"] == "broken") {
      CHECK(t.state == TrialState::kFailed);
      CHECK(t.error == "unknown backbone 'broken'");
    } else {
      CHECK(t.state == TrialState::kComplete);
    }
  }
}

TEST_CASE("enqueued trials run first with their fixed values", "[orchestrator][coordinator]") {
  StudySpec spec =
      MakeSpec(R"({"backbone": {"choice": ["a", "b"]}, "lr": {"uniform": [0.001, 0.1]}})", 3, 1);
  spec.enqueue = {Json{{"backbone", "b"}, {"lr", 0.05}}};
  Harness harness(spec, 1);
  harness.Run();
  const auto first = harness.store().FindTrial(1, 0);
  REQUIRE(first);
  CHECK(first->params["backbone"] == "b");
  CHECK(first->params["lr"] == 0.05);
  CHECK(first->state == TrialState::kComplete);
}

TEST_CASE("a resumed study proposes exactly what an uninterrupted one would",
          "[orchestrator][coordinator]") {
  const std::string space = R"({"lr": {"log_uniform": [1e-3, 1e-1]}, "b": {"choice": [1, 2, 3]}})";
  const StudySpec whole_spec = MakeSpec(space, 8, 1);
  std::vector<Json> whole;
  {
    Harness harness(whole_spec, 2);
    harness.Run();
    for (const auto& t : harness.store().Trials(1)) whole.push_back(t.params);
  }
  const StudySpec split_spec = MakeSpec(space, 8, 1);
  {
    Harness first(split_spec, 2);
    CoordinatorOptions options;
    options.trials = 3;
    CHECK(first.Run(options).trials == 3);
  }
  Harness second(split_spec, 1);
  const RunSummary summary = second.Run();
  CHECK(summary.trials == 8);
  CHECK(summary.finished_this_run == 5);  // the first 3 were kept, not rerun
  std::vector<Json> resumed;
  for (const auto& t : second.store().Trials(1)) resumed.push_back(t.params);
  CHECK(resumed == whole);
}

TEST_CASE("a stop request queues running trials again and a rerun completes them",
          "[orchestrator][coordinator]") {
  const StudySpec spec = MakeSpec(R"({"lr": {"uniform": [0.001, 0.1]}})", 4, 5);
  std::vector<Json> params;
  {
    Harness harness(spec, 2, /*epoch_ms=*/40);
    std::atomic<bool> stop{false};
    CoordinatorOptions options;
    options.stop_requested = [&] { return stop.load(); };
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      stop = true;
    });
    const RunSummary summary = harness.Run(options);
    stopper.join();
    CHECK(summary.interrupted);
    CHECK(summary.queued == 2);
    CHECK(summary.stale == 0);
    for (const auto& t : harness.store().Trials(summary.study_id)) {
      CHECK(t.state == TrialState::kQueued);
      CHECK_THAT(t.error, Catch::Contains("interrupted"));
      CHECK(t.epochs_done == 0);
      CHECK(harness.store().Epochs(t.id).empty());  // the interrupted attempt's epochs are gone
      params.push_back(t.params);
    }
  }
  Harness again(spec, 2);
  const RunSummary summary = again.Run();
  CHECK(summary.complete == 4);
  CHECK_FALSE(summary.interrupted);
  const auto trials = again.store().Trials(summary.study_id);
  REQUIRE(trials.size() == 4);
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(trials[i].params == params[i]);  // rerun with the parameters it had
    CHECK(trials[i].retries == 0);         // an interruption is not a failed attempt
  }
}

TEST_CASE("interrupting a trial more often than max_retries does not abandon it",
          "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": 0.02})", 1, 4);
  spec.resources.max_retries = 1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Harness harness(spec, 1, /*epoch_ms=*/40);
    std::atomic<bool> stop{false};
    CoordinatorOptions options;
    options.stop_requested = [&] { return stop.load(); };
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(70));
      stop = true;
    });
    const RunSummary summary = harness.Run(options);
    stopper.join();
    CHECK(summary.interrupted);
    CHECK(summary.queued == 1);  // the trial was running when the stop came
  }
  Harness last(spec, 1);
  const RunSummary summary = last.Run();
  CHECK(summary.complete == 1);
  CHECK(summary.stale == 0);
}

TEST_CASE("a resume refuses a study file whose objective changed", "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": 0.02})", 2, 1);
  {
    Harness harness(spec, 1);
    CHECK(harness.Run().complete == 2);
  }
  StudySpec flipped = spec;
  flipped.objective.maximize = !spec.objective.maximize;
  flipped.budget.trials = 3;
  Harness again(flipped, 1);
  try {
    again.Run();
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("'objective'"));
    CHECK_THAT(e.what(), Catch::Contains("new 'study' name"));
  }
  // Nothing stored was changed: the study keeps its 2 trials and its direction.
  const auto study = again.store().FindStudy("fake");
  REQUIRE(study);
  CHECK(study->trial_count == 2);
  CHECK(study->maximize == spec.objective.maximize);
}

TEST_CASE("enqueue entries added to the study file run when the study resumes",
          "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": {"uniform": [0.001, 0.1]}})", 3, 1);
  spec.enqueue = {Json{{"lr", 0.05}}};
  {
    Harness harness(spec, 1);
    CHECK(harness.Run().complete == 3);
  }
  spec.enqueue.push_back(Json{{"lr", 0.07}});  // the entry already run is not run again
  Harness again(spec, 1);
  const RunSummary summary = again.Run();
  CHECK(summary.trials == 4);
  const auto trials = again.store().Trials(summary.study_id);
  REQUIRE(trials.size() == 4);
  CHECK(trials[0].params["lr"] == 0.05);
  CHECK(trials[3].params["lr"] == 0.07);
  CHECK(trials[3].state == TrialState::kComplete);
}

TEST_CASE("an enqueue entry runs once even when it fixes a parameter its condition leaves out",
          "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(
      R"({"opt": {"choice": ["sgd", "adam"]}, "momentum": {"uniform": [0.5, 0.99], "when": {"opt": "sgd"}}})",
      2, 1);
  spec.enqueue = {Json{{"opt", "adam"}, {"momentum", 0.9}}};  // momentum is inactive with adam
  for (int64_t budget : {2, 3, 4}) {
    Harness harness(spec, 1);
    CoordinatorOptions options;
    options.trials = budget;
    CHECK(harness.Run(options).trials == budget);  // no copy of the entry on any resume
  }
}

TEST_CASE("an enqueue entry left out for one run and then restored does not run again",
          "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": {"uniform": [0.001, 0.1]}})", 2, 1);
  spec.enqueue = {Json{{"lr", 0.05}}, Json{{"lr", 0.07}}};
  {
    Harness harness(spec, 1);
    CHECK(harness.Run().trials == 2);
  }
  StudySpec without = spec;
  without.enqueue = {Json{{"lr", 0.05}}};
  without.budget.trials = 3;
  {
    Harness harness(without, 1);
    CHECK(harness.Run().trials == 3);
  }
  spec.budget.trials = 4;
  Harness again(spec, 1);
  const RunSummary summary = again.Run();
  CHECK(summary.trials == 4);
  int with_007 = 0;
  for (const auto& t : again.store().Trials(summary.study_id)) with_007 += t.params["lr"] == 0.07;
  CHECK(with_007 == 1);
}

TEST_CASE("under the grid sampler the enqueue list cannot change once the study has trials",
          "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": {"choice": [0.01, 0.02, 0.03]}})", 2, 1);
  spec.sampler.type = SamplerType::kGrid;
  {
    Harness harness(spec, 1);
    CHECK(harness.Run().trials == 2);
  }
  spec.enqueue = {Json{{"lr", 0.03}}};
  Harness again(spec, 1);
  CHECK_THROWS_WITH(again.Run(), Catch::Contains("grid sampler numbers its points"));
}

TEST_CASE("a grid study ends when the grid is exhausted", "[orchestrator][coordinator]") {
  StudySpec spec = MakeSpec(R"({"lr": {"choice": [0.01, 0.02, 0.03]}})", 100, 1);
  spec.sampler.type = SamplerType::kGrid;
  Harness harness(spec, 2);
  const RunSummary summary = harness.Run();
  CHECK(summary.trials == 3);
  CHECK(summary.complete == 3);
}

TEST_CASE("a store batch, as the coordinator holds per round, is one transaction readers see whole",
          "[coordinator][store]") {
  const StudySpec spec = MakeSpec(R"({"x": {"uniform": [0, 1]}})", 2);
  auto store = Store::OpenForWriting(spec.storage);
  const int64_t study = store->CreateOrUpdateStudy(spec);
  auto reader = Store::OpenReadOnly(spec.storage);
  int64_t id = 0;
  {
    Store::Batch batch(*store);
    id = store->AddTrial(study, 0, TrialState::kRunning, Json{{"x", 0.5}}, 1);
    store->MarkRunning(id, "w", Json{{"x", 0.5}});
    {
      Store::Batch nested(*store);                   // joins the outer batch
      store->RecordEpoch(id, 1, {{"value", 0.25}});  // its own transaction joins too
      nested.Commit();                               // the outermost batch's commit counts
    }
    CHECK(reader->Trials(study).empty());  // nothing visible before the outermost batch ends
    store->MarkComplete(id, 0.25, {{"value", 0.25}}, {}, 1);
    CHECK(reader->Trials(study).empty());
    batch.Commit();
  }
  const auto trials = reader->Trials(study);
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kComplete);
  CHECK(trials[0].value == 0.25);
  CHECK(reader->Epochs(id).size() == 1);

  // Without a batch every write commits at once.
  store->MarkStale(id, "lost");
  CHECK(reader->FindTrial(study, 0)->state == TrialState::kStale);
}
