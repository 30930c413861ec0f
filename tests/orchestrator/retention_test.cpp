#include "orchestrator/retention.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/artifact_lock.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// A study of five ended trials (values 0.1 .. 0.5 for trials 0..4, trial 2 PRUNED, trial 4
// FAILED without artifacts), each COMPLETE or PRUNED one with a checkpoint and predictions on
// disk and in the store.
struct RetentionFixture {
  fs::path root = test::FreshDir("ensweep_retention_test", "study");
  StudySpec spec;
  std::unique_ptr<Store> store;
  int64_t study_id = 0;

  explicit RetentionFixture(int64_t keep) {
    spec.name = "retention";
    spec.data.train = "/data/train";
    spec.artifacts = (root / "artifacts").string();
    spec.storage = (root / "ensweep.sqlite").string();
    spec.checkpoints.keep = keep;
    store = Store::OpenForWriting(spec.storage);
    study_id = store->CreateOrUpdateStudy(spec);
    for (int n = 0; n < 5; ++n) {
      const int64_t id = store->AddTrial(study_id, n, TrialState::kRunning, {{"n", n}}, 1);
      if (n == 4) {
        store->MarkFailed(id, "boom", 1);
        continue;
      }
      std::vector<ArtifactRecord> artifacts;
      for (const char* kind : {"checkpoint", "val_probs"}) {
        const fs::path path = Dir(n) / (std::string(kind) + ".bin");
        fs::create_directories(path.parent_path());
        std::ofstream(path) << "bytes of " << kind;
        artifacts.push_back(DescribeArtifact(kind, path.string()));
      }
      const double value = 0.1 * (n + 1);
      if (n == 2) {
        store->MarkPruned(id, value, {{"val_macro_f1", value}}, artifacts, 1);
      } else {
        store->MarkComplete(id, value, {{"val_macro_f1", value}}, artifacts, 2);
      }
    }
  }
  fs::path Dir(int n) const { return fs::path(spec.artifacts) / ("trial-" + std::to_string(n)); }
  bool HasCheckpoint(int n) const { return fs::exists(Dir(n) / "checkpoint.bin"); }
  std::vector<std::string> Kinds(int n) const {
    std::vector<std::string> kinds;
    for (const ArtifactRecord& a : store->Artifacts(store->FindTrial(study_id, n)->id)) {
      kinds.push_back(a.kind);
    }
    return kinds;
  }
};

}  // namespace

TEST_CASE("keep N deletes the checkpoints of every ended trial outside the best N",
          "[orchestrator][retention]") {
  RetentionFixture f(2);
  CheckpointRetention retention(f.spec, *f.store);
  std::vector<std::string> notes;
  CHECK(retention.Sweep(f.store->Trials(f.study_id), notes));
  CHECK(notes.empty());
  // Trials 3 (0.4) and 1 (0.2) are the best two COMPLETE ones; the PRUNED trial 2 never ranks.
  CHECK(f.HasCheckpoint(3));
  CHECK(f.HasCheckpoint(1));
  CHECK_FALSE(f.HasCheckpoint(0));
  CHECK_FALSE(f.HasCheckpoint(2));
  CHECK(retention.deleted() == 2);
  // Predictions are kept, on disk and in the store; the deleted checkpoints' rows are gone.
  for (int n : {0, 1, 2, 3}) {
    INFO("trial " << n);
    CHECK(fs::exists(f.Dir(n) / "val_probs.bin"));
  }
  CHECK(f.Kinds(0) == std::vector<std::string>{"val_probs"});
  CHECK(f.Kinds(3) == std::vector<std::string>{"checkpoint", "val_probs"});
}

TEST_CASE("a trial that drops out of the best N loses its checkpoint at the next sweep",
          "[orchestrator][retention]") {
  RetentionFixture f(1);
  CheckpointRetention retention(f.spec, *f.store);
  std::vector<std::string> notes;
  retention.Sweep(f.store->Trials(f.study_id), notes);
  CHECK(f.HasCheckpoint(3));
  CHECK_FALSE(f.HasCheckpoint(1));
  // A new best trial: trial 3 leaves the best one.
  const int64_t id = f.store->AddTrial(f.study_id, 5, TrialState::kRunning, {{"n", 5}}, 1);
  const fs::path path = f.Dir(5) / "checkpoint.bin";
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "weights";
  f.store->MarkComplete(id, 0.9, {}, {DescribeArtifact("checkpoint", path.string())}, 2);
  retention.Sweep(f.store->Trials(f.study_id), notes);
  CHECK(fs::exists(path));
  CHECK_FALSE(f.HasCheckpoint(3));
}

TEST_CASE("none deletes every checkpoint and all deletes nothing", "[orchestrator][retention]") {
  const int64_t keep = GENERATE(int64_t{0}, CheckpointSpec::kAll);
  RetentionFixture f(keep);
  CheckpointRetention retention(f.spec, *f.store);
  std::vector<std::string> notes;
  CHECK(retention.Sweep(f.store->Trials(f.study_id), notes));
  for (int n : {0, 1, 2, 3}) {
    INFO("trial " << n << ", keep " << keep);
    CHECK(f.HasCheckpoint(n) == (keep == CheckpointSpec::kAll));
  }
}

TEST_CASE("a sweep waits while a reader holds the artifact folder", "[orchestrator][retention]") {
  RetentionFixture f(1);
  CheckpointRetention retention(f.spec, *f.store);
  std::vector<std::string> notes;
  {
    const ArtifactLock reader = ArtifactLock::Shared(f.spec.artifacts);
    REQUIRE(reader.held());
    CHECK_FALSE(retention.Sweep(f.store->Trials(f.study_id), notes));  // postponed
    for (int n : {0, 1, 2, 3}) CHECK(f.HasCheckpoint(n));
    CHECK(f.Kinds(0) == std::vector<std::string>{"checkpoint", "val_probs"});
  }
  CHECK(retention.Sweep(f.store->Trials(f.study_id), notes));  // the reader is gone
  CHECK(f.HasCheckpoint(3));
  for (int n : {0, 1, 2}) CHECK_FALSE(f.HasCheckpoint(n));
}
