#include "core/store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

std::string FreshStorePath() {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_store_test", std::to_string(counter++));
  return (dir / "sub" / "store.sqlite").string();
}

StudySpec Spec(const std::string& name, bool maximize = true) {
  StudySpec spec;
  spec.name = name;
  spec.data.train = "/data/train";
  spec.objective.maximize = maximize;
  return spec;
}

}  // namespace

TEST_CASE("a trial round-trips through the store with metrics and artifacts", "[core][store]") {
  const std::string path = FreshStorePath();
  auto store = Store::OpenForWriting(path);
  const int64_t study = store->CreateOrUpdateStudy(Spec("s"));
  const Json params = {{"backbone", "resnet18"}, {"lr", 0.01}};
  const uint64_t seed = 0xF00DF00DF00DF00Dull;  // above INT64_MAX: must survive as unsigned
  const int64_t id = store->AddTrial(study, 0, TrialState::kRunning, params, seed);
  store->MarkRunning(id, "local-1", params);
  store->RecordEpoch(id, 1, {{"val_macro_f1", 0.25}, {"train_loss", 2.0}});
  store->RecordEpoch(id, 2, {{"val_macro_f1", 0.5}, {"train_loss", 1.0}});
  store->MarkComplete(id, 0.5, {{"val_macro_f1", 0.5}},
                      {{"val_probs", "/a/val.npy", 123, "fnv1a64:00"}}, 2);

  auto reader = Store::OpenReadOnly(path);
  const auto trial = reader->FindTrial(study, 0);
  REQUIRE(trial);
  CHECK(trial->state == TrialState::kComplete);
  CHECK(trial->params == params);
  CHECK(trial->seed == seed);
  REQUIRE(trial->value);
  CHECK(*trial->value == Approx(0.5));
  CHECK(trial->worker == "local-1");
  CHECK(trial->epochs_done == 2);
  CHECK(trial->finished_at >= trial->started_at);
  const auto epochs = reader->Epochs(trial->id);
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[0].metrics.at("val_macro_f1") == Approx(0.25));
  CHECK(epochs[1].metrics.at("train_loss") == Approx(1.0));
  const auto artifacts = reader->Artifacts(trial->id);
  REQUIRE(artifacts.size() == 1);
  CHECK(artifacts[0].path == "/a/val.npy");
  CHECK(artifacts[0].size_bytes == 123);
}

TEST_CASE("the leaderboard query orders by the study's direction", "[core][store]") {
  auto store = Store::OpenForWriting(FreshStorePath());
  const int64_t study = store->CreateOrUpdateStudy(Spec("s"));
  const double values[] = {0.3, 0.9, 0.1, 0.5};
  for (int i = 0; i < 4; ++i) {
    const int64_t id = store->AddTrial(study, i, TrialState::kRunning, Json::object(), 1);
    store->MarkComplete(id, values[i], {}, {}, 1);
  }
  const int64_t failed = store->AddTrial(study, 4, TrialState::kRunning, Json::object(), 1);
  store->MarkFailed(failed, "boom", 0);
  const auto best = store->TopTrials(study, /*maximize=*/true, 3);
  REQUIRE(best.size() == 3);
  CHECK(best[0].number == 1);
  CHECK(best[1].number == 3);
  CHECK(best[2].number == 0);
  const auto lowest = store->TopTrials(study, /*maximize=*/false, 0);
  REQUIRE(lowest.size() == 4);
  CHECK(lowest[0].number == 2);
  const auto record = store->FindStudy("s");
  REQUIRE(record);
  CHECK(record->trial_count == 5);
  CHECK(record->complete_count == 4);
  CHECK(record->failed_count == 1);
  REQUIRE(record->best_value);
  CHECK(*record->best_value == Approx(0.9));
}

TEST_CASE("resuming marks trials left running as stale and keeps completed ones", "[core][store]") {
  const std::string path = FreshStorePath();
  {
    auto store = Store::OpenForWriting(path);
    const int64_t study = store->CreateOrUpdateStudy(Spec("s"));
    store->MarkComplete(store->AddTrial(study, 0, TrialState::kRunning, Json::object(), 1), 0.4, {},
                        {}, 1);
    store->AddTrial(study, 1, TrialState::kRunning, Json::object(), 2);
  }
  auto store = Store::OpenForWriting(path);
  const int64_t study = store->CreateOrUpdateStudy(Spec("s"));
  CHECK(store->MarkAllRunningStale(study, "previous run died") == 1);
  const auto trials = store->Trials(study);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].state == TrialState::kComplete);
  CHECK(trials[1].state == TrialState::kStale);
  CHECK(trials[1].error == "previous run died");
  store->MarkRetried(trials[1].id, "local-2");
  const auto retried = store->FindTrial(study, 1);
  CHECK(retried->state == TrialState::kRunning);
  CHECK(retried->retries == 1);
}

TEST_CASE("a read-only reader works while a writer commits and cannot write", "[core][store]") {
  const std::string path = FreshStorePath();
  auto writer = Store::OpenForWriting(path);
  const int64_t study = writer->CreateOrUpdateStudy(Spec("s"));
  auto reader = Store::OpenReadOnly(path);
  std::thread writing([&] {
    for (int i = 0; i < 200; ++i) {
      const int64_t id = writer->AddTrial(study, i, TrialState::kRunning, Json::object(), 1);
      writer->RecordEpoch(id, 1, {{"m", 0.1 * i}});
      writer->MarkComplete(id, 0.001 * i, {}, {}, 1);
    }
  });
  int64_t last_seen = 0;
  for (int i = 0; i < 200; ++i) {
    const auto top = reader->TopTrials(study, true, 5);
    const int64_t count = reader->FindStudy("s")->trial_count;
    CHECK(count >= last_seen);  // snapshots only move forward
    last_seen = count;
    if (!top.empty()) CHECK(top[0].value.has_value());
  }
  writing.join();
  CHECK(reader->FindStudy("s")->complete_count == 200);
  CHECK_THROWS(reader->CreateOrUpdateStudy(Spec("other")));
}

TEST_CASE("opening a missing store read-only is a user error", "[core][store]") {
  CHECK_THROWS_AS(Store::OpenReadOnly("/nonexistent/ensweep.sqlite"), UserError);
}

TEST_CASE("a file that is not a store is rejected with a user error", "[core][store]") {
  const std::string path = FreshStorePath();
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "this is not sqlite";
  CHECK_THROWS_AS(Store::OpenForWriting(path), UserError);
}

TEST_CASE("ensembles are recorded with members and weights", "[core][store]") {
  auto store = Store::OpenForWriting(FreshStorePath());
  const int64_t study = store->CreateOrUpdateStudy(Spec("s"));
  EnsembleRecord record;
  record.study_id = study;
  record.method = "uniform";
  record.member_numbers = {3, 1};
  record.weights = {0.5, 0.5};
  record.metrics = {{"val_macro_f1", 0.7}};
  record.submission_path = "/x/submission.csv";
  const int64_t id = store->AddEnsemble(record);
  const auto stored = store->Ensembles(study);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].id == id);
  CHECK(stored[0].member_numbers == std::vector<int64_t>{3, 1});
  CHECK(stored[0].weights == std::vector<double>{0.5, 0.5});
  CHECK(stored[0].metrics["val_macro_f1"] == 0.7);
}

TEST_CASE(
    "a schema 1 store is migrated: no device column, interrupted trials queued, enqueue "
    "records written",
    "[core][store]") {
  const std::string path = FreshStorePath();
  int64_t study = 0, interrupted = 0, lost = 0;
  {
    // A schema 2 store, then taken back to what schema 1 left behind.
    auto store = Store::OpenForWriting(path);
    StudySpec spec = Spec("old");
    spec.enqueue = {Json{{"lr", 0.1}}};
    study = store->CreateOrUpdateStudy(spec);
    interrupted = store->AddTrial(study, 0, TrialState::kRunning, Json{{"lr", 0.1}}, 1);
    store->RecordEpoch(interrupted, 1, {{"val_macro_f1", 0.5}});
    store->MarkStale(interrupted, "interrupted: stopped by signal");
    lost = store->AddTrial(study, 1, TrialState::kRunning, Json{{"lr", 0.2}}, 2);
    store->RecordEpoch(lost, 1, {{"val_macro_f1", 0.4}});
    store->MarkStale(lost, "worker w1 lost: no message for 30s");
    store->CreateOrUpdateStudy(Spec("new"));  // no trials: no record
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE workers ADD COLUMN device TEXT NOT NULL DEFAULT ''");
    db.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  }
  auto store = Store::OpenForWriting(path);
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getString() == "2");
    CHECK(db.execAndGet("SELECT COUNT(*) FROM pragma_table_info('workers') WHERE name = 'device'")
              .getInt() == 0);
  }
  const auto queued = store->FindTrial(study, 0);
  REQUIRE(queued);
  CHECK(queued->state == TrialState::kQueued);
  CHECK(queued->epochs_done == 0);
  CHECK(queued->error == "interrupted: stopped by signal");
  CHECK(store->Epochs(interrupted).empty());
  const auto stale = store->FindTrial(study, 1);  // lost, not interrupted: kept as it was
  REQUIRE(stale);
  CHECK(stale->state == TrialState::kStale);
  CHECK(store->Epochs(lost).size() == 1);
  CHECK(store->Meta("enqueued/" + std::to_string(study)) == Json::parse(R"([{"lr": 0.1}])").dump());
  CHECK_FALSE(store->Meta("enqueued/" + std::to_string(study + 1)));
  CHECK(store->RegisterWorker(study, "w1", "host", 1) > 0);
}
