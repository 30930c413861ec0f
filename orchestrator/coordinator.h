// The coordinator: the one place that decides what runs where, and the store's only writer.
//
// It registers workers, proposes trials with the study's sampler, sends them to idle workers,
// records every report, result and failure in the store, asks the study's pruner at every report
// (CONTINUE, or STOP: the trial ends PRUNED at the epoch it reached, its value the last reported
// objective, or the best one under objective.scope best, its artifacts kept), retries trials whose
// worker was lost (STALE) up to the study's limit, and stops at the budget (trials, wall time,
// target value) or on request. Resuming: on start, trials left RUNNING by a dead run become STALE
// and are retried; trials stopped by a stop request are QUEUED and run first (a torch trial taken
// up again continues from the state it saved after its last epoch and reports those epochs again);
// completed trials are kept; numbering, sampling and pruning continue from the stored history
// (per-epoch values included), so with one worker a resumed study is identical to an uninterrupted
// one. The stored study's objective must match the study file's; `enqueue` entries that no trial
// has run yet are queued. A larger trial budget (CoordinatorOptions::trials, `ensweep run --trials
// N`) extends a finished study.
//
// Store writes are grouped per round (the events that arrived, then new work) into one
// transaction committed before the coordinator waits again; if the process is killed mid-round,
// that round's writes are lost: a trial it finished is retried on resume (as STALE), one it
// created is proposed again. Progress lines are printed only after their round's commit, so
// nothing printed is missing from the store. When the store fails (a full disk, an I/O error, the
// file removed or replaced: StoreError), Run() tells the workers to go and throws it: trials that
// were running stay RUNNING in the store and are retried on resume. Another process holding the
// store's lock is waited for (one message) for as long as it holds it; a stop request while
// waiting ends the run as interrupted, its running trials left to be retried.
//
// The coordinator routes messages and schedules work; the study's trials are its TrialBook's
// (orchestrator/trial_book.h), its workers' liveness its WorkerRoster's, its progress lines a
// ProgressPrinter's. Run() is single-threaded and owns the loop; the transport may use threads
// inside. The time and target budgets stop new trials from starting; trials already running
// finish.
// Every round reads all the events the transport already holds before it checks heartbeats, and
// a coordinator that was itself not running for longer than the heartbeat timeout (SIGSTOP and
// SIGCONT, a suspended machine) gives every worker a fresh timeout instead of declaring it lost.
//
// Checkpoint retention (`checkpoints: {keep: N | none}`, orchestrator/retention.h) sweeps after
// the commit of every round in which a trial ended, at the start of a run and at its end; a
// sweep postponed because a reader holds the artifact folder is noted at the end.
//
// Trials on several slots (gangs) are scheduled as orchestrator/gang.h says: the trial at the head
// of the queue starts once as many idle workers as it needs are there, and reserves every idle
// worker until then, so that 1-slot trials cannot starve it.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/store.h"
#include "core/study.h"
#include "orchestrator/gang.h"
#include "orchestrator/progress.h"
#include "orchestrator/retention.h"
#include "orchestrator/transport.h"
#include "orchestrator/trial_book.h"
#include "orchestrator/worker_roster.h"
#include "search/pruner.h"
#include "search/sampler.h"

namespace ensweep {

struct CoordinatorOptions {
  std::optional<int64_t> trials;  // overrides budget.trials (e.g. to extend a finished study)
  // Polled between events; true ends the run cleanly: running trials go back to the queue with
  // their parameters (QUEUED, epochs cleared) and run first on resume, without counting as a
  // retry; nothing completed is lost.
  std::function<bool()> stop_requested;
  // Local and MPI launches know how many workers to expect: if all of them are gone (or none
  // connected within worker_start_timeout) the run fails instead of waiting. 0: elastic, wait.
  int expected_workers = 0;
  std::chrono::seconds worker_start_timeout{120};
  // With expected_workers: the run does not end (finished or stopped) before every expected
  // worker has said HELLO, or worker_start_timeout has passed, so that each one is told to shut
  // down. MPI ranks need it: a worker rank waits for its SHUTDOWN, and MPI_Finalize on rank 0
  // waits for every rank, so a study with nothing left to run would otherwise hang.
  bool end_after_every_hello = false;
  std::ostream* progress = nullptr;  // human-readable progress lines; null: silent
  ProgressView progress_view;        // how they show (orchestrator/progress.h); its clock: `now`
  std::chrono::milliseconds poll_interval{100};
  // The clock the heartbeat and time-budget checks read; tests pass a fake one to simulate a
  // coordinator that was paused.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

struct RunSummary {
  int64_t study_id = 0;
  int64_t trials = 0;  // trials in the study after the run
  int64_t complete = 0, failed = 0, pruned = 0, stale = 0, queued = 0;
  int64_t finished_this_run = 0;  // ended for good in this run (TrialBook::finished_this_run)
  bool interrupted = false;
  std::string stop_reason;
  double seconds = 0;
};

class Coordinator {
 public:
  // Throws UserError for a spec the sampler cannot serve. References must outlive the object.
  Coordinator(const StudySpec& spec, Store& store, CoordinatorTransport& transport,
              CoordinatorOptions options);
  ~Coordinator();

  // Runs until the study is done, stopped, or (with expected_workers) every worker is gone.
  // Throws std::runtime_error in the last case, StoreError when the store fails.
  RunSummary Run();
  // The run's progress view, for lines written from elsewhere while it is drawn
  // (ProgressPrinter::Interject, thread-safe).
  ProgressPrinter& printer() { return printer_; }

 private:
  void Resume();
  void HandleEvent(const TransportEvent& event);
  // Throws ProtocolError for anything the peer should not have sent (message.h), before writing
  // anything of it.
  void HandleMessage(int peer, const Message& message);
  void OnHello(int peer, const Message& message);
  void OnReport(int peer, WorkerSlot& slot, const Message& message);
  void OnEnd(WorkerSlot& slot, const Message& message);  // DONE or FAIL
  // INTERRUPTED: the worker gives its trial back (queued again, no retry charged; a gang's
  // attempt is aborted for its other members).
  void OnInterrupted(int peer, WorkerSlot& slot, const Message& message);
  // The trial a REPORT, DONE or FAIL names must be the one the worker runs.
  void CheckTrial(const WorkerSlot& slot, const std::string& type, int64_t number) const;
  void CheckEpochs(const std::string& type, int epochs, const char* field) const;
  // Rewrites each artifact's path as an absolute path inside the trial's ArtifactDir (relative
  // paths are relative to it); throws ProtocolError if one is elsewhere or has a ".." component.
  void CheckArtifacts(int64_t number, std::vector<ArtifactRecord>& artifacts) const;
  // A peer that broke the protocol: disconnected, logged, and handled as lost (its trial STALE).
  void DropPeer(int peer, const std::string& type, const std::string& error);
  void HandleLost(int peer, const std::string& reason);
  // Declares lost every worker the roster finds silent (worker_roster.h). Once per round.
  void CheckHeartbeats();
  // A HEARTBEAT to every idle worker due one (worker_roster.h).
  void SendHeartbeats();
  std::chrono::steady_clock::time_point Now() const {
    return options_.now ? options_.now() : std::chrono::steady_clock::now();
  }
  // Starts trials on idle workers while the head trial finds the slots it needs (gang.h).
  void Dispatch();
  // The trial to start next, queued first, else a new one, with its parameters; nullopt when
  // there is none. Kept as head_ until it starts.
  struct Head {
    std::optional<int64_t> number;  // a queued or retried trial; nullopt: a new one
    Json params;
    int slots = 1;
  };
  std::optional<Head> NextHead();
  // Starts head_ in the book on `workers` (their names, by rank) and clears it.
  const TrialRecord& StartHead(const std::string& workers);
  // Ready workers without a trial, in peer order.
  std::vector<int> IdlePeers() const;
  void SendRun(int peer, const TrialRecord& trial, const std::optional<msg::RunGang>& gang);
  // The head needs more slots than the run can ever have: it is started and FAILED at once.
  bool RefuseImpossibleHead();
  void StartGang(const std::vector<int>& members);
  // Gang members' messages (coordinator_gang.cc).
  void OnGangReport(int peer, WorkerSlot& slot, const Message& message);
  void OnGangEnd(int peer, WorkerSlot& slot, const Message& message);  // DONE or FAIL
  void OnRendezvous(int peer, WorkerSlot& slot, const Message& message);
  // `slot` (already off the roster) was lost while a member of its gang.
  void GangMemberLost(int peer, const WorkerSlot& slot, const std::string& reason);
  // Ends the attempt because of member `cause`: ABORT to every other member still holding it.
  void AbortGang(GangAttempt& attempt, int cause, const std::string& reason);
  // CONTINUE or STOP to every member waiting for an epoch the attempt has an answer for.
  void AnswerWaiting(GangAttempt& attempt);
  // The member no longer holds the trial; the attempt is forgotten once no member does.
  void FreeMember(int peer, WorkerSlot& slot);
  // The gang attempt `slot` belongs to.
  GangAttempt& AttemptOf(const WorkerSlot& slot);
  bool MayStartNewTrial() const;
  bool TimeBudgetSpent() const;
  bool TargetReached() const;
  bool Finished() const;
  // With end_after_every_hello: expected workers have yet to say HELLO, within the start timeout.
  bool WorkersStillComing() const;
  void StopAll(const std::string& reason);
  // Commits the round's batch (throws StoreError), then prints its progress lines.
  void CommitRound(Store::Batch& batch);
  void RunRounds(RunSummary& summary);
  // One round of events and new work, inside the caller's batch; true when the run ends.
  bool Round(RunSummary& summary, std::optional<TransportEvent>& event);
  // The store's lock-wait callback: one message per wait; false (give up) on a stop request.
  bool WaitForStoreLock(std::chrono::milliseconds waited, bool first);
  // Checkpoint retention after a commit; `last`: the run's final sweep, which notes a
  // postponement.
  void SweepCheckpoints(bool last);
  // Tells every worker to shut down, writing nothing (the store has failed).
  void AbandonWorkers(const std::string& reason);

  const StudySpec& spec_;
  Store& store_;
  CoordinatorTransport& transport_;
  CoordinatorOptions options_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Pruner> pruner_;
  int64_t budget_trials_;
  ProgressPrinter printer_;  // progress lines, printed after their round's commit
  TrialBook book_;           // the study's trials
  CheckpointRetention retention_;
  int64_t swept_after_ = -1;  // finished_this_run() at the last sweep
  int64_t study_id_ = 0;
  WorkerRoster roster_;                   // the workers, by transport peer
  std::optional<Head> head_;              // the next trial, waiting for its slots
  std::map<int64_t, GangAttempt> gangs_;  // gang attempts with members holding them, by id
  int64_t next_gang_ = 1;
  std::string gang_nonce_;  // tells this run's gang keys from another run's
  bool noted_gang_wait_ = false;
  bool stopping_ = false;  // a stop was requested; read once per round, before its events
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ensweep
