#include "orchestrator/coordinator.h"

#include <stdexcept>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"

namespace ensweep {
namespace {

// The progress view reads the coordinator's clock unless it was given one.
ProgressView ViewWithClock(const CoordinatorOptions& options) {
  ProgressView view = options.progress_view;
  if (!view.now) view.now = options.now;
  return view;
}

}  // namespace

Coordinator::Coordinator(const StudySpec& spec, Store& store, CoordinatorTransport& transport,
                         CoordinatorOptions options)
    : spec_(spec),
      store_(store),
      transport_(transport),
      options_(std::move(options)),
      sampler_(MakeSampler(spec)),
      pruner_(MakePruner(spec)),
      budget_trials_(options_.trials.value_or(spec.budget.trials)),
      printer_(options_.progress, spec, ViewWithClock(options_)),
      book_(spec, store, *pruner_, printer_, PlannedTrials(*sampler_, budget_trials_)),
      retention_(spec, store),
      roster_(spec.resources.heartbeat_timeout_s) {}

Coordinator::~Coordinator() = default;

void Coordinator::CommitRound(Store::Batch& batch) {
  batch.Commit();
  printer_.Flush();  // only now: a line never reports what the store does not hold
}

bool Coordinator::WaitForStoreLock(std::chrono::milliseconds /*waited*/, bool first) {
  if (first) {
    printer_.NoteNow("store " + store_.path() +
                     " is locked by another process; waiting for it (Ctrl-C stops the run)");
  }
  return !(options_.stop_requested && options_.stop_requested());
}

void Coordinator::SweepCheckpoints(bool last) {
  if (!retention_.enabled()) return;
  if (!last && swept_after_ == book_.finished_this_run()) return;  // no trial ended since
  swept_after_ = book_.finished_this_run();
  std::vector<std::string> notes;
  const bool done = retention_.Sweep(book_.History(), notes);
  for (const std::string& note : notes) printer_.NoteNow(note);
  if (!done && last) {
    printer_.NoteNow("study " + spec_.name +
                     ": checkpoints outside checkpoints.keep are kept for now: a reader "
                     "(ensweep ensemble or predict) holds the artifact folder; the next run "
                     "deletes them");
  }
}

void Coordinator::AbandonWorkers(const std::string& reason) {
  for (auto& [peer, slot] : roster_.slots()) {
    transport_.Send(peer, msg::Encode(msg::Shutdown{reason}));
  }
}

void Coordinator::Resume() {
  CheckStoredStudy(spec_, store_, printer_);
  study_id_ = store_.CreateOrUpdateStudy(spec_);
  // Only a pruner reads past epochs; without one, resuming a large study skips the queries.
  book_.Open(study_id_, spec_.pruner.type != PrunerType::kNone);
  const int64_t next = book_.next_number();
  if (book_.resumed() && book_.QueueEmpty() && !MayStartNewTrial() && next >= budget_trials_) {
    printer_.Note("study " + spec_.name + ": it already has " + CountOf(next, "trial") +
                  ", the trial budget is " + std::to_string(budget_trials_) +
                  ": nothing to run (extend it with --trials N, N > " + std::to_string(next) + ")");
  }
}

bool Coordinator::TimeBudgetSpent() const {
  if (spec_.budget.time_s <= 0) return false;
  return std::chrono::duration<double>(Now() - started_).count() >= spec_.budget.time_s;
}

bool Coordinator::TargetReached() const {
  const TrialRecord* best = book_.best();
  if (!spec_.budget.target || best == nullptr) return false;
  return spec_.objective.maximize ? *best->value >= *spec_.budget.target
                                  : *best->value <= *spec_.budget.target;
}

bool Coordinator::MayStartNewTrial() const {
  const int64_t next = book_.next_number();
  if (next >= budget_trials_) return false;
  if (TargetReached()) return false;
  const auto capacity = sampler_->Capacity();
  if (capacity && next >= *capacity) return false;
  return !TimeBudgetSpent();
}

bool Coordinator::Finished() const {
  for (const auto& [peer, slot] : roster_.slots()) {
    if (slot->trial) return false;
  }
  if (TimeBudgetSpent() || TargetReached()) return true;
  return book_.QueueEmpty() && !head_ && !MayStartNewTrial();
}

std::optional<Coordinator::Head> Coordinator::NextHead() {
  Head head;
  if (const auto number = book_.TakeQueued()) {
    const TrialRecord& trial = book_.Get(*number);
    head.number = *number;
    // A retry keeps its parameters; a queued trial's fixed values are completed by the sampler.
    head.params = trial.state == TrialState::kStale
                      ? trial.params
                      : sampler_->Propose(*number, trial.params, book_.History());
  } else {
    if (!MayStartNewTrial()) return std::nullopt;
    head.params = sampler_->Propose(book_.next_number(), Json::object(), book_.History());
  }
  head.slots = SlotsOfTrial(spec_, head.params);
  return head;
}

const TrialRecord& Coordinator::StartHead(const std::string& workers) {
  const Head head = std::move(*head_);
  head_.reset();
  noted_gang_wait_ = false;
  if (head.number) return book_.Start(*head.number, workers, head.params);
  return book_.StartNew(workers, head.params);
}

std::vector<int> Coordinator::IdlePeers() const {
  std::vector<int> idle;
  for (const auto& [peer, slot] : roster_.slots()) {
    if (slot->ready && !slot->trial) idle.push_back(peer);
  }
  return idle;
}

void Coordinator::SendRun(int peer, const TrialRecord& trial,
                          const std::optional<msg::RunGang>& gang) {
  WorkerSlot& slot = *roster_.Find(peer);
  slot.trial = trial.number;
  slot.stop_sent = false;
  slot.trial_started = Now();
  msg::Run run;
  run.trial = trial.number;
  run.params = trial.params;
  run.seed = trial.seed;
  run.epochs = spec_.budget.epochs;
  run.artifact_dir = book_.ArtifactDir(trial.number);
  run.gang = gang;
  transport_.Send(peer, msg::Encode(run));
  Log(LogLevel::kDebug, "trial ", trial.number, " -> ", slot.name);
}

void Coordinator::Dispatch() {
  if (TimeBudgetSpent() || TargetReached()) return;
  while (true) {
    const std::vector<int> idle = IdlePeers();
    if (idle.empty()) return;
    if (!head_) head_ = NextHead();
    if (!head_) return;
    if (head_->slots <= 1) {
      SendRun(idle.front(), StartHead(roster_.Find(idle.front())->name), std::nullopt);
      continue;
    }
    if (RefuseImpossibleHead()) continue;
    std::vector<GangCandidate> able;
    for (int peer : idle) {
      const WorkerSlot& slot = *roster_.Find(peer);
      if (slot.gangs) able.push_back({peer, slot.host});
    }
    // Every idle worker stays reserved for the head until it has its slots (gang.h).
    if (static_cast<int>(able.size()) < head_->slots) {
      if (!noted_gang_wait_ && options_.expected_workers == 0) {
        printer_.Note("the next trial needs " + CountOf(head_->slots, "worker") + " (idle now: " +
                      std::to_string(able.size()) + "); waiting for more to be free or to join");
        noted_gang_wait_ = true;
      }
      return;
    }
    StartGang(ChooseGangMembers(able, head_->slots));
  }
}

void Coordinator::CheckArtifacts(int64_t number, std::vector<ArtifactRecord>& artifacts) const {
  const std::string folder = book_.ArtifactDir(number);
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const auto inside = msg::PathInside(folder, artifacts[i].path);
    if (!inside) {
      throw ProtocolError("DONE: 'artifacts[" + std::to_string(i) +
                          "].path' is not inside the trial's artifact folder " + folder);
    }
    artifacts[i].path = *inside;
  }
}

void Coordinator::OnHello(int peer, const Message& message) {
  const msg::Hello hello = msg::DecodeHello(message);
  roster_
      .Add(peer, hello.name, store_.RegisterWorker(study_id_, hello.name, hello.host, hello.pid),
           Now())
      .host = hello.host;
  transport_.Send(peer, msg::Encode(msg::Welcome{spec_.ToJson()}));
}

void Coordinator::CheckTrial(const WorkerSlot& slot, const std::string& type,
                             int64_t number) const {
  if (!slot.trial || *slot.trial != number) {
    throw ProtocolError(type + " for trial " + std::to_string(number) + ", but " +
                        (slot.trial ? "the worker runs trial " + std::to_string(*slot.trial)
                                    : std::string("the worker runs no trial")));
  }
}

void Coordinator::CheckEpochs(const std::string& type, int epochs, const char* field) const {
  if (epochs > spec_.budget.epochs) {
    throw ProtocolError(type + ": '" + field + "' is " + std::to_string(epochs) +
                        ", beyond the study's " + std::to_string(spec_.budget.epochs) + " epochs");
  }
}

void Coordinator::OnReport(int peer, WorkerSlot& slot, const Message& message) {
  const msg::Report report = msg::DecodeReport(message);
  CheckTrial(slot, message.type, report.trial);
  CheckEpochs(message.type, report.epoch, "epoch");
  slot.last_seen = Now();
  if (book_.RecordEpoch(report.trial, report.epoch, report.metrics, slot.stop_sent)) {
    slot.stop_sent = true;
  }
  if (slot.stop_sent) {
    transport_.Send(peer, msg::Encode(msg::Stop{report.trial}));
  } else {
    transport_.Send(peer, msg::Encode(msg::Continue{report.trial}));
  }
}

void Coordinator::OnEnd(WorkerSlot& slot, const Message& message) {
  const auto seconds = [&] {
    return std::chrono::duration<double>(Now() - slot.trial_started).count();
  };
  if (message.type == msg::kDone) {
    msg::Done done = msg::DecodeDone(message);
    CheckTrial(slot, message.type, done.trial);
    CheckEpochs(message.type, done.epochs, "epochs");
    CheckArtifacts(done.trial, done.artifacts);
    slot.last_seen = Now();
    book_.Finish(done.trial, done.metrics, done.artifacts, done.epochs,
                 slot.stop_sent || done.stopped_early, seconds());
  } else {
    const msg::Fail fail = msg::DecodeFail(message);
    CheckTrial(slot, message.type, fail.trial);
    slot.last_seen = Now();
    book_.Fail(fail.trial, fail.error, seconds());
  }
  slot.trial.reset();
  slot.stop_sent = false;
}

void Coordinator::OnInterrupted(int peer, WorkerSlot& slot, const Message& message) {
  const msg::Interrupted interrupted = msg::DecodeInterrupted(message);
  CheckTrial(slot, message.type, interrupted.trial);
  slot.last_seen = Now();
  const std::string reason = "worker " + slot.name + " stopped: " + interrupted.reason;
  if (slot.gang != 0) {
    // A gang member: the attempt ends for every member, and the trial is queued again.
    const auto it = gangs_.find(slot.gang);
    if (it != gangs_.end() && !slot.aborted && !it->second.over) {
      book_.Interrupt(it->second.trial, reason);
      AbortGang(it->second, peer, reason);
    }
    FreeMember(peer, slot);
  } else {
    book_.Interrupt(interrupted.trial, reason);
    slot.trial.reset();
    slot.stop_sent = false;
  }
  slot.ready = false;  // the worker is leaving: no new trial for it
  printer_.Note("trial " + std::to_string(interrupted.trial) + " given back by worker " +
                slot.name + " (" + interrupted.reason + "); queued again, no retry charged");
}

bool Coordinator::WorkersStillComing() const {
  return options_.end_after_every_hello && roster_.seen() < options_.expected_workers &&
         Now() - started_ <= options_.worker_start_timeout;
}

void Coordinator::HandleMessage(int peer, const Message& message) {
  if (roster_.Dropped(peer)) {
    Log(LogLevel::kDebug, "ignoring ", msg::QuotedType(message.type), " from a lost worker");
    return;
  }
  WorkerSlot* const found = roster_.Find(peer);
  if (message.type == msg::kHello) {
    if (found != nullptr) throw ProtocolError("a second HELLO on the same connection");
    OnHello(peer, message);
    return;
  }
  if (found == nullptr) throw ProtocolError(msg::QuotedType(message.type) + " before HELLO");
  WorkerSlot& slot = *found;
  if (message.type == msg::kReady) {
    const msg::Ready ready = msg::DecodeReady(message);
    slot.last_seen = Now();
    slot.ready = true;
    slot.gangs = ready.gangs;
    printer_.Note("worker " + slot.name + " ready (" + ready.device + ")");
  } else if (message.type == msg::kReport) {
    if (slot.gang != 0) {
      OnGangReport(peer, slot, message);
    } else {
      OnReport(peer, slot, message);
    }
  } else if (message.type == msg::kDone || message.type == msg::kFail) {
    if (slot.gang != 0) {
      OnGangEnd(peer, slot, message);
    } else {
      OnEnd(slot, message);
    }
  } else if (message.type == msg::kRendezvous) {
    OnRendezvous(peer, slot, message);
  } else if (message.type == msg::kInterrupted) {
    OnInterrupted(peer, slot, message);
  } else if (message.type == msg::kHeartbeat) {
    msg::DecodeHeartbeat(message);
    slot.last_seen = Now();
  } else {
    throw ProtocolError("workers do not send " + msg::QuotedType(message.type));
  }
}

void Coordinator::HandleEvent(const TransportEvent& event) {
  if (event.kind == TransportEvent::Kind::kLost) {
    HandleLost(event.peer, event.reason);
  } else {
    try {
      HandleMessage(event.peer, event.message);
    } catch (const ProtocolError& e) {
      DropPeer(event.peer, event.message.type, e.what());
    }
  }
}

void Coordinator::DropPeer(int peer, const std::string& type, const std::string& error) {
  const WorkerSlot* const slot = roster_.Find(peer);
  Log(LogLevel::kWarn, slot != nullptr ? "worker " + slot->name : "peer " + std::to_string(peer),
      ": protocol error: ", error, "; disconnecting it");
  // A worker refused at HELLO (e.g. of another protocol version) is told why.
  if (slot == nullptr && type == msg::kHello) {
    transport_.Send(peer, msg::Encode(msg::Shutdown{"protocol error: " + error}));
  }
  transport_.Disconnect(peer);
  HandleLost(peer, "protocol error: " + error);
}

void Coordinator::HandleLost(int peer, const std::string& reason) {
  const std::unique_ptr<WorkerSlot> slot = roster_.Remove(peer);  // later messages are ignored
  if (slot == nullptr) return;
  printer_.Note("worker " + slot->name + " lost: " + reason);
  if (slot->gang != 0) {
    GangMemberLost(peer, *slot, reason);
  } else if (slot->trial && stopping_) {
    book_.Interrupt(*slot->trial, "stopped by signal (worker " + slot->name + " gone)");
  } else if (slot->trial) {
    book_.Stale(*slot->trial, "worker " + slot->name + " lost: " + reason);
  }
  store_.MarkWorkerGone(slot->store_id, reason);
}

void Coordinator::CheckHeartbeats() {
  for (int peer : roster_.Silent(Now())) {
    transport_.Disconnect(peer);
    HandleLost(peer, "no message for " +
                         std::to_string(static_cast<int>(spec_.resources.heartbeat_timeout_s)) +
                         "s");
  }
}

void Coordinator::SendHeartbeats() {
  for (int peer : roster_.DueHeartbeat(Now())) {
    transport_.Send(peer, msg::Encode(msg::Heartbeat{}));
  }
}

void Coordinator::StopAll(const std::string& reason) {
  for (auto& [peer, slot] : roster_.slots()) {
    if (slot->trial && slot->gang != 0) {
      // A gang's trial is interrupted once, unless its attempt has ended already.
      GangAttempt& attempt = AttemptOf(*slot);
      if (!attempt.over) book_.Interrupt(*slot->trial, reason);
      attempt.over = true;
    } else if (slot->trial) {
      book_.Interrupt(*slot->trial, reason);
    }
    slot->trial.reset();
    slot->gang = 0;
    transport_.Send(peer, msg::Encode(msg::Shutdown{reason}));
  }
  gangs_.clear();
}

RunSummary Coordinator::Run() {
  started_ = Now();
  gang_nonce_ = std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count() %
                               1000000000000LL);
  RunSummary summary;
  store_.SetLockWait([this](std::chrono::milliseconds waited, bool first) {
    return WaitForStoreLock(waited, first);
  });
  try {
    RunRounds(summary);
  } catch (const StoreError& e) {
    // The store failed (or another process held it while a stop was requested): nothing more can
    // be written. What the failed round printed is dropped with its writes; trials that were
    // running stay RUNNING in the store and are retried on resume; workers are told to go.
    store_.SetLockWait(nullptr);
    printer_.Drop();
    const bool stopped = e.kind() == StoreError::Kind::kLocked && options_.stop_requested &&
                         options_.stop_requested();
    AbandonWorkers(stopped ? "stopped by signal" : "the store failed");
    if (!stopped) throw;
    summary.interrupted = true;
    summary.stop_reason =
        "stopped by signal while another process held the store's lock; trials that were running "
        "are retried on the next run";
  } catch (...) {
    store_.SetLockWait(nullptr);
    throw;
  }
  store_.SetLockWait(nullptr);
  SweepCheckpoints(/*last=*/true);
  printer_.Finish();
  summary.study_id = study_id_;
  summary.seconds = std::chrono::duration<double>(Now() - started_).count();
  summary.finished_this_run = book_.finished_this_run();
  const TrialBook::Counts counts = book_.Count();
  summary.trials = counts.trials;
  summary.complete = counts.complete;
  summary.failed = counts.failed;
  summary.pruned = counts.pruned;
  summary.stale = counts.stale;
  summary.queued = counts.queued;
  return summary;
}

void Coordinator::RunRounds(RunSummary& summary) {
  {
    // One transaction: the stored spec (with its enqueue list) and the trials queued from it
    // are written together, so a crash cannot keep the one without the other.
    Store::Batch batch(store_);
    Resume();
    CommitRound(batch);
  }
  SweepCheckpoints(/*last=*/false);  // what an earlier run had to postpone
  std::optional<TransportEvent> event;
  bool done = false;
  while (!done) {
    // One round: the events that arrived, then new work. Everything the round writes is one
    // store transaction, committed before the coordinator waits again (never held while it
    // waits), so a crash loses at most the round in progress; the round's progress lines are
    // printed once its commit has succeeded. A store failure (StoreError) ends the run with the
    // round rolled back; any other exception keeps what the round wrote (finished trials) first.
    Store::Batch batch(store_);
    try {
      done = Round(summary, event);
    } catch (const StoreError&) {
      throw;
    } catch (...) {
      CommitRound(batch);
      throw;
    }
    CommitRound(batch);
    SweepCheckpoints(/*last=*/false);
    if (!done) event = transport_.Poll(options_.poll_interval);
  }
}

bool Coordinator::Round(RunSummary& summary, std::optional<TransportEvent>& event) {
  // Read before the events: a signal sent to a whole process group may reach a worker joined
  // by hand first, and its loss is then part of the stop, not a failure (HandleLost).
  stopping_ = options_.stop_requested && options_.stop_requested();
  if (event) HandleEvent(*event);
  event.reset();
  // Everything else already waiting, before dispatching again and before heartbeats are
  // judged: after a pause (SIGSTOP, a suspended machine) the messages workers sent meanwhile
  // are there, and their senders are not silent.
  while (auto more = transport_.Poll(std::chrono::milliseconds(0))) HandleEvent(*more);
  CheckHeartbeats();
  // A stop request before the check for lost workers: with a signal sent to the whole process
  // group (e.g. `kill -- -PGID`, a batch scheduler) the workers may be gone already.
  if (stopping_ && !WorkersStillComing()) {
    summary.interrupted = true;
    summary.stop_reason =
        "stopped by signal; interrupted trials are queued to run first on the next run";
    StopAll("stopped by signal");
    return true;
  }
  if (options_.expected_workers > 0 && roster_.slots().empty()) {
    const bool all_gone = roster_.seen() >= options_.expected_workers;
    const bool none_came = Now() - started_ > options_.worker_start_timeout;
    if (all_gone || none_came) {
      throw std::runtime_error(
          all_gone ? "every worker exited before the study finished; see their messages above"
                   : "no worker connected within the start timeout");
    }
  }
  if (stopping_) return false;  // waiting for the HELLOs of workers still to be told
  Dispatch();
  SendHeartbeats();
  if (Finished() && !WorkersStillComing()) {
    summary.stop_reason = TimeBudgetSpent() ? "time budget spent"
                          : TargetReached() ? "target value reached"
                                            : "trial budget reached";
    StopAll("study finished");
    return true;
  }
  return false;
}

}  // namespace ensweep
