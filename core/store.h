// The SQLite store of studies, trials, per-epoch metrics, artifacts, workers and ensembles.
//
// One process writes (the coordinator, or `ensweep ensemble` for ensemble rows); every other opens
// the file read-only, so a leaderboard query can never lock or corrupt a running study. The file is
// in WAL mode, so readers see a consistent snapshot while the writer commits. Each mutating call is
// one transaction. A Store is not thread-safe: use it from one thread.
//
// The schema carries a version (table `meta`); opening an older file for writing migrates it,
// opening a newer one fails with a clear message.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

inline constexpr int kSchemaVersion = 1;

class Store {
 public:
  // Creates the file (and its folder) if missing. Throws UserError if it is not an ensweep store.
  static std::unique_ptr<Store> OpenForWriting(const std::string& path);
  // Throws UserError if the file does not exist or is not an ensweep store.
  static std::unique_ptr<Store> OpenReadOnly(const std::string& path);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;

  // Groups every write made while it lives into one transaction: one commit instead of one per
  // write (a sweep of instant trials commits per coordinator round, not four times per trial).
  // Readers see the writes when it ends. Nested batches join the outermost one. The destructor
  // commits; if the process dies first, that batch's writes are lost, so hold one only across
  // work that does not wait (the coordinator holds one per round of events, never while it
  // waits for a message).
  class Batch {
   public:
    explicit Batch(Store& store);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    Store& store_;
    bool outermost_ = false;
  };

  // Studies. CreateOrUpdateStudy stores the spec on first use and keeps the newest spec after
  // (a resumed run may extend the budget); returns the study id.
  int64_t CreateOrUpdateStudy(const StudySpec& spec);
  std::optional<StudyRecord> FindStudy(const std::string& name) const;
  // Small named values kept with the store (e.g. the enqueue entries a study has queued so far).
  std::optional<std::string> Meta(const std::string& key) const;
  void SetMeta(const std::string& key, const std::string& value);
  std::vector<StudyRecord> ListStudies() const;

  // Trials.
  int64_t AddTrial(int64_t study_id, int64_t number, TrialState state, const nlohmann::json& params,
                   uint64_t seed);
  void MarkRunning(int64_t trial_id, const std::string& worker, const nlohmann::json& params);
  void RecordEpoch(int64_t trial_id, int epoch, const MetricMap& metrics);
  void MarkComplete(int64_t trial_id, std::optional<double> value, const MetricMap& metrics,
                    const std::vector<ArtifactRecord>& artifacts, int epochs_done);
  // Stopped by the pruner after `epochs_done` epochs: like MarkComplete (value = the last reported
  // objective, artifacts kept) but in state PRUNED, so it never ranks among complete trials.
  void MarkPruned(int64_t trial_id, std::optional<double> value, const MetricMap& metrics,
                  const std::vector<ArtifactRecord>& artifacts, int epochs_done);
  void MarkFailed(int64_t trial_id, const std::string& error, int epochs_done);
  // Worker lost or run interrupted; increments nothing (retries count when it runs again).
  void MarkStale(int64_t trial_id, const std::string& reason);
  // Every RUNNING trial of the study becomes STALE (a previous run died); returns how many.
  int MarkAllRunningStale(int64_t study_id, const std::string& reason);
  // A STALE trial is taken up again: RUNNING, retries + 1.
  void MarkRetried(int64_t trial_id, const std::string& worker);
  // A running trial stopped by the user (Ctrl-C, SIGTERM): back to QUEUED with its parameters and
  // `reason` as its error, its epochs cleared; it runs first on the next run and does not count
  // against max_retries (an interruption is not the trial's failure).
  void MarkInterrupted(int64_t trial_id, const std::string& reason);

  std::vector<TrialRecord> Trials(int64_t study_id) const;  // by number
  std::optional<TrialRecord> FindTrial(int64_t study_id, int64_t number) const;
  // COMPLETE trials with a value, best first by the study's direction; limit <= 0: all.
  std::vector<TrialRecord> TopTrials(int64_t study_id, bool maximize, int limit) const;
  std::vector<EpochRecord> Epochs(int64_t trial_id) const;
  std::vector<ArtifactRecord> Artifacts(int64_t trial_id) const;

  // Workers.
  int64_t RegisterWorker(int64_t study_id, const std::string& name, const std::string& host,
                         int64_t pid, const std::string& device);
  void MarkWorkerGone(int64_t worker_id, const std::string& reason);

  // Ensembles.
  int64_t AddEnsemble(const EnsembleRecord& record);
  std::vector<EnsembleRecord> Ensembles(int64_t study_id) const;

 private:
  struct Impl;
  // Forgets a trial's per-epoch metrics (a lost or interrupted attempt's), inside the caller's
  // transaction.
  void ClearEpochs(int64_t trial_id);
  explicit Store(std::unique_ptr<Impl> impl);
  void MarkEnded(int64_t trial_id, const char* state, std::optional<double> value,
                 const MetricMap& metrics, const std::vector<ArtifactRecord>& artifacts,
                 int epochs_done);
  std::unique_ptr<Impl> impl_;
};

// Current time as Unix seconds with sub-second precision.
double NowSeconds();

}  // namespace ensweep
