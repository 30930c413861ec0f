// The SQLite store of studies, trials, per-epoch metrics, artifacts, workers and ensembles.
//
// One process writes (the coordinator, or `ensweep ensemble` for ensemble rows); every other opens
// the file read-only, so a leaderboard query can never lock or corrupt a running study. The file is
// in WAL mode, so readers see a consistent snapshot while the writer commits. Each mutating call is
// one transaction. A Store is not thread-safe: use it from one thread.
//
// The schema carries a version (table `meta`); opening an older file for writing migrates it,
// opening a newer one fails with a clear message.
//
// Failures are never silent: every SQLite error under a store method (a full disk, an I/O error, a
// read-only file, a lock held too long by another process) is thrown as a StoreError
// (core/error.h) whose message names the store's path and says what happened in a user's words;
// a transaction whose commit failed is rolled back and reported, never taken for done. The writer
// also notices the file at its path being removed, replaced or truncated (CheckFile, and every
// commit) and reports that the same way.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

// 2: workers without `device`; interrupted trials QUEUED; every study's enqueue record.
inline constexpr int kSchemaVersion = 2;

// How the writer opens its store. Unset values come from the environment, for tests and quotas:
//   ENSWEEP_STORE_BUSY_TIMEOUT_MS  busy_timeout in milliseconds
//   ENSWEEP_STORE_MAX_PAGES        max_pages
struct StoreOptions {
  // How long a write waits for a lock another process holds on the store before the wait is
  // reported to the lock-wait callback (SetLockWait), or, without one, fails with a StoreError.
  std::optional<std::chrono::milliseconds> busy_timeout;  // default 10 s
  // SQLite's `PRAGMA max_page_count` on this connection: a write that would grow the file past
  // this many pages fails as a full disk would (StoreError kFull). For tests and small quotas.
  std::optional<int64_t> max_pages;
};

class Store {
 public:
  // Creates the file (and its folder) if missing. Throws UserError if it is not an ensweep store,
  // including an empty (0-byte) file: a store is never empty once created, so an empty file is a
  // store that was truncated, and is refused rather than silently started anew.
  static std::unique_ptr<Store> OpenForWriting(const std::string& path,
                                               const StoreOptions& options = {});
  // Throws UserError if the file does not exist or is not an ensweep store.
  static std::unique_ptr<Store> OpenReadOnly(const std::string& path);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;

  // Throws StoreError (kMoved) if the file at path() is no longer the file this store has open:
  // removed, replaced by another file, or truncated to 0 bytes. Two stat calls: cheap enough for
  // every commit. A no-op for a read-only store.
  void CheckFile() const;

  // Called while a write waits for a lock another process holds on the store, once `busy_timeout`
  // has passed and then every 100-250 ms: `first` is true on the first call of each wait. Return
  // true to wait on, false to give up (the write then throws StoreError kLocked). Without one, a
  // write gives up after the busy timeout. Pass nullptr to remove it.
  using LockWait = std::function<bool(std::chrono::milliseconds waited, bool first)>;
  void SetLockWait(LockWait lock_wait);

  // Groups every write made while it lives into one transaction: one commit instead of one per
  // write (a sweep of instant trials commits per coordinator round, not four times per trial).
  // Readers see the writes when Commit() returns. Nested batches join the outermost one (their
  // Commit does nothing). A batch destroyed without Commit (an exception is leaving) rolls back
  // everything it wrote. If the process dies first, that batch's writes are lost, so hold one only
  // across work that does not wait (the coordinator holds one per round of events, never while
  // it waits for a message).
  class Batch {
   public:
    // Waits for the store's write lock (see SetLockWait); throws StoreError.
    explicit Batch(Store& store);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    // Commits the outermost batch and checks that the file is still at its path (CheckFile).
    // Throws StoreError when the commit fails (the batch is then rolled back: nothing it wrote
    // is stored) or the file was removed or replaced (what it wrote went with the old file). Once
    // it returns, the writes are in the store.
    void Commit();

   private:
    Store& store_;
    bool outermost_ = false;
    bool done_ = false;
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
  // Checkpoint retention (orchestrator/retention.h): forgets trial `trial_id`'s artifacts whose
  // kind begins with `kind_prefix` once their files are deleted (the rows go: nothing lists or
  // reads them again); returns how many rows went.
  int ForgetArtifacts(int64_t trial_id, const std::string& kind_prefix);

  // Read-only queries for the dashboard (dashboard/api.h): each one SQL statement, so that a
  // page of a 100,000-trial study costs a sort in SQLite, not a load of every trial.
  struct TrialQuery {
    std::vector<TrialState> states;  // empty: every state
    // Trials whose parameter equals the value: a number compares numerically, true/false as
    // booleans, anything else as text.
    std::vector<std::pair<std::string, std::string>> param_equals;
    // "value" (trials without a value last in both orders), "number", "duration" (trials not
    // finished last), "metric:<name>" or "param:<name>" (trials without it last); ties by number.
    std::string sort = "value";
    bool descending = true;
    int64_t offset = 0;
    int64_t limit = -1;  // < 0: all
  };
  struct TrialPage {
    int64_t total = 0;  // trials matching the filters, whatever offset and limit
    std::vector<TrialRecord> trials;
  };
  TrialPage QueryTrials(int64_t study_id, const TrialQuery& query) const;

  // Per-state counts and times of a study's trials, without reading their parameters.
  struct StudyActivity {
    std::map<std::string, int64_t> counts;           // by TrialStateName; absent states 0
    double first_started_at = 0, last_event_at = 0;  // 0: none
    double finished_seconds = 0;  // sum of (finished_at - started_at) over finished trials
    int64_t finished_timed = 0;   // trials in that sum
    int64_t epochs_recorded = 0;  // grows with every RecordEpoch of the store (any study)
  };
  StudyActivity Activity(int64_t study_id) const;

  // Number, state, value and finish time of every trial, by number (no parameters parsed).
  struct TrialBrief {
    int64_t number = 0;
    TrialState state = TrialState::kQueued;
    std::optional<double> value;
    double finished_at = 0;  // 0: not finished
  };
  std::vector<TrialBrief> TrialBriefs(int64_t study_id) const;

  // The per-epoch values of `metric`, by trial number then epoch; `numbers` empty: every trial.
  struct CurvePoint {
    int64_t number = 0;
    TrialState state = TrialState::kQueued;
    int epoch = 0;
    double value = 0;
  };
  std::vector<CurvePoint> MetricCurves(int64_t study_id, const std::string& metric,
                                       const std::vector<int64_t>& numbers) const;
  // Every final-metric name of any trial of the study, sorted.
  std::vector<std::string> MetricNames(int64_t study_id) const;
  // Bytes of every artifact recorded for the study's trials.
  int64_t ArtifactBytes(int64_t study_id) const;

  // Workers.
  int64_t RegisterWorker(int64_t study_id, const std::string& name, const std::string& host,
                         int64_t pid);
  void MarkWorkerGone(int64_t worker_id, const std::string& reason);

  // Ensembles.
  int64_t AddEnsemble(const EnsembleRecord& record);
  std::vector<EnsembleRecord> Ensembles(int64_t study_id) const;

 private:
  struct Impl;
  // Runs a store method's body, turning SQLite's exceptions into StoreError.
  template <typename Body>
  auto Guarded(Body&& body) const -> decltype(body());
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
