// The trial book: the one owner of a running study's trials.
//
// It holds every trial of the study (by number: the in-memory copy of the stored history), the
// per-epoch objective values the pruner reads, the queue of trials waiting to run (QUEUED ones
// first, then STALE ones to retry) and the best COMPLETE trial. Each transition is one method
// that updates all of them, writes the store and tells the observer, so the three never
// disagree: Start (new, queued or retried), RecordEpoch, Finish (COMPLETE, PRUNED or FAILED),
// Stale (the worker was lost) and Interrupt (a stop request). The coordinator decides when;
// the book keeps what.
//
// History() is the samplers' view of the study: the book's own records, updated in place by
// each transition (no copy per proposal), in number order.
//
// Writes go to the caller's store batch (the coordinator's round). Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/store.h"
#include "core/study.h"
#include "orchestrator/progress.h"
#include "search/pruner.h"
#include "search/sampler.h"

namespace ensweep {

// The error text of a trial put back in the queue by a stop (Interrupt), before its reason.
inline const std::string kInterruptedPrefix = "interrupted: ";

// Throws UserError when the study file's objective differs from the stored study's (with
// trials), or its enqueue list under the grid sampler; notes a changed space.
void CheckStoredStudy(const StudySpec& spec, const Store& store, RunObserver& observer);

class TrialBook {
 public:
  // `planned`: the trials the study is to run (for progress), at least the trials it has.
  // References must outlive the book.
  TrialBook(const StudySpec& spec, Store& store, const Pruner& pruner, RunObserver& observer,
            int64_t planned);

  // Opens study `study_id` (stored already): reads its trials, the per-epoch values where the
  // pruner needs them (`read_curves`); trials left RUNNING by a dead run become STALE; the
  // study file's `enqueue` entries that no run has queued yet become QUEUED trials; then the
  // queue is built, QUEUED trials first, then STALE ones with retries left. Notes a resume.
  void Open(int64_t study_id, bool read_curves);
  // The study had trials when it was opened.
  bool resumed() const { return resumed_; }

  // The next queued trial's number, taken off the queue; nullopt when empty.
  std::optional<int64_t> TakeQueued();
  bool QueueEmpty() const { return pending_.empty(); }

  // Starts trial `number` (QUEUED or STALE) on `worker`: a STALE trial keeps its parameters and
  // counts a retry; a queued one runs with `params`. Its past epochs are forgotten: a trainer that
  // resumes the trial from a saved state (worker/torch_trainer.h) reports them again.
  const TrialRecord& Start(int64_t number, const std::string& worker, const Json& params);
  // Creates the next trial, RUNNING on `worker` with `params`.
  const TrialRecord& StartNew(const std::string& worker, const Json& params);
  // Records a REPORT; returns true when the pruner stops the trial here (never when
  // `stopping`: a stop already sent).
  bool RecordEpoch(int64_t number, int epoch, const MetricMap& metrics, bool stopping);
  // The trial ended with `metrics` after `epochs`: PRUNED when `pruned` (its value the last
  // reported objective, or under objective.scope best the best one; else the final one),
  // COMPLETE (its value the final metrics' objective: the trainer's best or last epoch's), or
  // FAILED when the objective is missing.
  void Finish(int64_t number, const MetricMap& metrics,
              const std::vector<ArtifactRecord>& artifacts, int epochs, bool pruned,
              double seconds);
  // The trial threw `error`: FAILED.
  void Fail(int64_t number, const std::string& error, double seconds);
  // Its worker was lost: STALE, queued first to retry if it has retries left.
  void Stale(int64_t number, const std::string& reason);
  // Back to the queue (QUEUED, epochs cleared, no retry used), first in line: for the next run
  // after a stop, or for this one when its worker was stopped (INTERRUPTED).
  void Interrupt(int64_t number, const std::string& reason);

  const std::vector<TrialRecord>& History() const { return trials_; }
  const TrialRecord& Get(int64_t number) const { return trials_[Index(number)]; }
  bool Retryable(const TrialRecord& trial) const;
  int64_t next_number() const { return next_number_; }
  const TrialRecord* best() const { return best_ ? &Get(*best_) : nullptr; }
  // Trials that ended for good in this run: COMPLETE, PRUNED, FAILED, or STALE without retries
  // left (their count is also the position TrialEnded reports, after those of earlier runs).
  int64_t finished_this_run() const { return finished_this_run_; }
  // Where trial `number`'s artifacts go: <artifacts>/trial-NNNNN.
  std::string ArtifactDir(int64_t number) const;
  struct Counts {
    int64_t trials = 0, complete = 0, failed = 0, pruned = 0, stale = 0, queued = 0;
  };
  Counts Count() const;

 private:
  struct Loaded {
    int64_t trials = 0, complete = 0, queued = 0;
    int left_running = 0;  // RUNNING trials of a dead run, now STALE
  };
  Loaded Load(bool read_curves);
  // Queues the enqueue entries not queued before; returns how many.
  int64_t QueueEnqueued();
  void AddQueued(const Json& params);
  // Builds the queue; returns how many STALE trials it holds.
  int QueueWaiting();
  size_t Index(int64_t number) const;
  TrialRecord& At(int64_t number) { return trials_[Index(number)]; }
  void NoteBest(const TrialRecord& trial);
  void Ended(const TrialRecord& trial, double seconds);

  const StudySpec& spec_;
  Store& store_;
  const Pruner& pruner_;
  RunObserver& observer_;
  int64_t planned_;
  int64_t study_id_ = 0;
  std::vector<TrialRecord> trials_;  // by number, ascending
  Curves curves_;                    // per-epoch objective values, for the pruner
  std::deque<int64_t> pending_;      // QUEUED (enqueued) and STALE-to-retry trial numbers
  std::optional<int64_t> best_;
  int64_t next_number_ = 0;
  int64_t finished_before_ = 0;  // trials that had ended (for good) when this run started
  int64_t finished_this_run_ = 0;
  bool resumed_ = false;
};

}  // namespace ensweep
