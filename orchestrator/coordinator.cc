#include "orchestrator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"

namespace ensweep {

using Clock = std::chrono::steady_clock;

// The error text of a trial put back in the queue by a stop (Interrupt), before its reason.
const std::string kInterrupted = "interrupted: ";
// The coordinator's HEARTBEAT to an idle worker: at least this often (more often for short
// heartbeat timeouts).
constexpr double kHeartbeatEverySeconds = 5;

struct Coordinator::WorkerSlot {
  int64_t store_id = 0;
  std::string name;
  std::string device;
  bool ready = false;
  std::optional<int64_t> trial;  // the trial it runs, if any
  bool stop_sent = false;        // the pruner stopped that trial
  Clock::time_point last_seen;
  Clock::time_point trial_started;
  Clock::time_point heartbeat_sent;  // the coordinator's last HEARTBEAT to it
};

namespace {

std::string FormatValue(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

// "backbone=resnet18 lr=0.0123 ..." with numbers shortened for one line of progress.
std::string ShortParams(const Json& params) {
  std::string out;
  for (const auto& item : params.items()) {
    std::string value;
    if (item.value().is_number_float()) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.4g", item.value().get<double>());
      value = text;
    } else if (item.value().is_string()) {
      value = item.value().get<std::string>();
    } else {
      value = item.value().dump();
    }
    out += (out.empty() ? "" : " ") + item.key() + "=" + value;
  }
  return out;
}

bool Better(double a, double b, bool maximize) { return maximize ? a > b : a < b; }

}  // namespace

Coordinator::Coordinator(const StudySpec& spec, Store& store, CoordinatorTransport& transport,
                         CoordinatorOptions options)
    : spec_(spec),
      store_(store),
      transport_(transport),
      options_(std::move(options)),
      sampler_(MakeSampler(spec)),
      pruner_(MakePruner(spec)),
      budget_trials_(options_.trials.value_or(spec.budget.trials)) {}

Coordinator::~Coordinator() = default;

void Coordinator::Print(const std::string& line) const {
  // Written once the round's commit has succeeded (FlushProgress): a line never reports what the
  // store does not hold.
  if (options_.progress != nullptr) unprinted_.push_back(line);
}

void Coordinator::FlushProgress() {
  if (options_.progress == nullptr || unprinted_.empty()) return;
  for (const std::string& line : unprinted_) *options_.progress << line << '\n';
  options_.progress->flush();
  unprinted_.clear();
}

void Coordinator::CommitRound(Store::Batch& batch) {
  batch.Commit();
  FlushProgress();
}

bool Coordinator::WaitForStoreLock(std::chrono::milliseconds /*waited*/, bool first) {
  if (first) {
    const std::string line = "store " + store_.path() + " is locked by another process; waiting " +
                             "for it (Ctrl-C stops the run)";
    if (options_.progress != nullptr) {
      *options_.progress << line << std::endl;
    } else {
      Log(LogLevel::kWarn, line);
    }
  }
  return !(options_.stop_requested && options_.stop_requested());
}

void Coordinator::AbandonWorkers(const std::string& reason) {
  for (auto& [peer, slot] : workers_) {
    transport_.Send(peer, msg::Encode(msg::Shutdown{reason}));
  }
}

std::string Coordinator::ArtifactDir(int64_t number) const {
  char name[32];
  std::snprintf(name, sizeof(name), "trial-%05lld", static_cast<long long>(number));
  return (std::filesystem::path(spec_.artifacts) / name).string();
}

const std::vector<TrialRecord>& Coordinator::History() {
  // Copying every record for every proposal costs O(n) deep copies; refresh only the records
  // whose state, progress or value changed since the last proposal.
  if (history_.size() > trials_.size()) history_.clear();
  size_t i = 0;
  for (const auto& [number, trial] : trials_) {
    if (i == history_.size()) {
      history_.push_back(trial);
    } else {
      TrialRecord& cached = history_[i];
      if (cached.number != trial.number || cached.state != trial.state ||
          cached.epochs_done != trial.epochs_done || cached.value != trial.value ||
          cached.retries != trial.retries) {
        cached = trial;
      }
    }
    ++i;
  }
  return history_;
}

std::vector<Json> Coordinator::CheckStoredStudy() {
  const auto stored = store_.FindStudy(spec_.name);
  if (!stored || stored->trial_count == 0) return {};
  const std::string file = spec_.source_path.empty() ? "the study" : spec_.source_path;
  const auto direction = [](bool maximize) { return maximize ? "maximize" : "minimize"; };
  if (stored->metric != spec_.objective.metric || stored->maximize != spec_.objective.maximize) {
    throw UserError(file + ": 'objective': study '" + spec_.name + "' in " + spec_.storage +
                    " already has " + CountOf(stored->trial_count, "trial") + " ranked by " +
                    stored->metric + " (" + direction(stored->maximize) + "), but this file " +
                    "gives " + spec_.objective.metric + " (" + direction(spec_.objective.maximize) +
                    "; the trainer's default when the file has no 'objective'); one study ranks "
                    "its trials on one objective: write `objective: {metric: " +
                    stored->metric + ", direction: " + direction(stored->maximize) +
                    "}` to keep it, or give this file a new 'study' name to start a new study");
  }
  // The enqueue list the study last ran with (taken as unchanged for a store without one).
  const std::vector<Json> stored_enqueue =
      stored->spec.contains("enqueue") && stored->spec["enqueue"].is_array()
          ? stored->spec["enqueue"].get<std::vector<Json>>()
          : spec_.enqueue;
  if (spec_.sampler.type == SamplerType::kGrid && stored_enqueue != spec_.enqueue) {
    throw UserError(file +
                    ": 'enqueue': the grid sampler numbers its points after the enqueued "
                    "trials, so the list cannot change once the study has trials (" +
                    CountOf(static_cast<long long>(stored_enqueue.size()), "entry") +
                    " when it last ran, " +
                    CountOf(static_cast<long long>(spec_.enqueue.size()), "entry") +
                    " now); restore it, or start a new study");
  }
  const Json space = spec_.ToJson().value("space", Json::object());
  if (stored->spec.value("space", Json::object()) != space) {
    Print("study " + spec_.name +
          ": the space differs from the stored study's; trials already run keep their "
          "parameters, new ones follow this file");
  }
  return stored_enqueue;
}

void Coordinator::Resume() {
  const std::vector<Json> stored_enqueue = CheckStoredStudy();
  study_id_ = store_.CreateOrUpdateStudy(spec_);
  const int stale = store_.MarkAllRunningStale(study_id_, "the previous run stopped while it ran");
  for (auto& trial : store_.Trials(study_id_)) {
    next_number_ = std::max(next_number_, trial.number + 1);
    // Stores written before interruptions were queued kept them STALE; queue them as now.
    if (trial.state == TrialState::kStale && trial.error.rfind(kInterrupted, 0) == 0) {
      store_.MarkInterrupted(trial.id, trial.error);
      trial.state = TrialState::kQueued;
      trial.epochs_done = 0;
    }
    TrialCurve& curve = curves_[trial.number];
    curve.state = trial.state;
    // Only a pruner reads past epochs; without one, resuming a large study skips the queries.
    if (trial.epochs_done > 0 && spec_.pruner.type != PrunerType::kNone) {
      for (const auto& epoch : store_.Epochs(trial.id)) {
        const auto it = epoch.metrics.find(spec_.objective.metric);
        if (it != epoch.metrics.end()) curve.values[epoch.epoch] = it->second;
      }
    }
    const int64_t number = trial.number;
    trials_[number] = std::move(trial);
    NoteBest(number);
  }
  const bool resuming = !trials_.empty();  // a new study's enqueued trials are not a resume
  // Every entry of `enqueue` runs once per study: on a new study they are trials 0, 1, ...;
  // entries the file has gained join a resumed study as its next trials. What has been queued
  // is kept in the store, entry by entry (a list only added to), so an entry left out for one
  // run and then restored is not run twice. Stores from before that record start from the
  // enqueue list the study last ran with.
  const std::string record_key = "enqueued/" + std::to_string(study_id_);
  std::vector<Json> queued_ever;
  if (const auto text = store_.Meta(record_key)) {
    queued_ever = Json::parse(*text).get<std::vector<Json>>();
  } else if (resuming) {
    queued_ever = stored_enqueue;
  }
  std::vector<Json> unmatched = queued_ever;
  int64_t queued_now = 0, queued_before = 0;
  for (const auto& [number, trial] : trials_) queued_before += trial.state == TrialState::kQueued;
  for (const Json& entry : spec_.enqueue) {
    const auto seen = std::find(unmatched.begin(), unmatched.end(), entry);
    if (seen != unmatched.end()) {
      unmatched.erase(seen);
      continue;
    }
    queued_ever.push_back(entry);
    const int64_t number = next_number_++;
    TrialRecord trial;
    trial.study_id = study_id_;
    trial.number = number;
    trial.params = entry;
    trial.seed = TrialSeed(spec_, number);
    trial.id = store_.AddTrial(study_id_, number, TrialState::kQueued, trial.params, trial.seed);
    trials_[number] = trial;
    ++queued_now;
  }
  store_.SetMeta(record_key, Json(queued_ever).dump());
  int retry = 0;
  for (const auto& [number, trial] : trials_) {
    if (trial.state == TrialState::kQueued) pending_.push_back(number);
  }
  for (const auto& [number, trial] : trials_) {  // after the queued ones: retries come second
    if (Retryable(trial)) {
      pending_.push_back(number);
      ++retry;
    }
    finished_before_ += trial.state == TrialState::kComplete ||
                        trial.state == TrialState::kFailed || trial.state == TrialState::kPruned ||
                        (trial.state == TrialState::kStale && !Retryable(trial));
  }
  if (resuming) {
    int64_t complete = 0;
    for (const auto& [number, trial] : trials_) complete += trial.state == TrialState::kComplete;
    std::ostringstream line;
    line << "study " << spec_.name << ": resuming with "
         << CountOf(trials_.size() - queued_now, "trial") << " (" << complete << " complete";
    if (queued_before > 0) line << ", " << queued_before << " queued";
    if (stale > 0) line << ", " << stale << " left running by the previous run";
    if (retry > 0) line << ", " << retry << " to retry";
    line << ")";
    if (queued_now > 0) {
      line << "; " << CountOf(queued_now, "new enqueued trial") << " from the study file";
    }
    Print(line.str());
    if (pending_.empty() && !MayStartNewTrial() && next_number_ >= budget_trials_) {
      Print("study " + spec_.name + ": it already has " + CountOf(next_number_, "trial") +
            ", the trial budget is " + std::to_string(budget_trials_) +
            ": nothing to run (extend it with --trials N, N > " + std::to_string(next_number_) +
            ")");
    }
  }
}

bool Coordinator::Retryable(const TrialRecord& trial) const {
  return trial.state == TrialState::kStale && trial.retries < spec_.resources.max_retries;
}

bool Coordinator::TimeBudgetSpent() const {
  if (spec_.budget.time_s <= 0) return false;
  return std::chrono::duration<double>(Now() - started_).count() >= spec_.budget.time_s;
}

void Coordinator::NoteBest(int64_t number) {
  const TrialRecord& trial = trials_.at(number);
  if (trial.state != TrialState::kComplete || !trial.value || !std::isfinite(*trial.value)) return;
  if (!best_number_ ||
      Better(*trial.value, *trials_.at(*best_number_).value, spec_.objective.maximize)) {
    best_number_ = number;
  }
}

bool Coordinator::TargetReached() const {
  if (!spec_.budget.target || !best_number_) return false;
  const double best = *trials_.at(*best_number_).value;
  return spec_.objective.maximize ? best >= *spec_.budget.target : best <= *spec_.budget.target;
}

bool Coordinator::MayStartNewTrial() const {
  if (next_number_ >= budget_trials_) return false;
  if (TargetReached()) return false;
  const auto capacity = sampler_->Capacity();
  if (capacity && next_number_ >= *capacity) return false;
  return !TimeBudgetSpent();
}

bool Coordinator::Finished() const {
  for (const auto& [peer, slot] : workers_) {
    if (slot->trial) return false;
  }
  if (TimeBudgetSpent() || TargetReached()) return true;
  return pending_.empty() && !MayStartNewTrial();
}

void Coordinator::Dispatch() {
  if (TimeBudgetSpent() || TargetReached()) return;
  for (auto& [peer, slot] : workers_) {
    if (!slot->ready || slot->trial) continue;
    int64_t number;
    bool retry = false;
    if (!pending_.empty()) {
      number = pending_.front();
      pending_.pop_front();
      TrialRecord& trial = trials_.at(number);
      retry = trial.state == TrialState::kStale;
      if (!retry) trial.params = sampler_->Propose(number, trial.params, History());
    } else if (MayStartNewTrial()) {
      number = next_number_++;
      TrialRecord trial;
      trial.study_id = study_id_;
      trial.number = number;
      trial.seed = TrialSeed(spec_, number);
      trial.params = sampler_->Propose(number, Json::object(), History());
      trial.id = store_.AddTrial(study_id_, number, TrialState::kRunning, trial.params, trial.seed);
      trials_[number] = trial;
    } else {
      return;
    }
    TrialRecord& trial = trials_.at(number);
    if (retry) {
      store_.MarkRetried(trial.id, slot->name);
      ++trial.retries;
    } else {
      store_.MarkRunning(trial.id, slot->name, trial.params);
    }
    trial.state = TrialState::kRunning;
    trial.worker = slot->name;
    curves_[number] = TrialCurve{};  // a retry starts with no epochs from its lost attempt
    slot->trial = number;
    slot->stop_sent = false;
    slot->trial_started = Now();
    transport_.Send(peer,
                    msg::Encode(msg::Run{number, trial.params, trial.seed, spec_.budget.epochs,
                                         ArtifactDir(number), trial.retries}));
    Log(LogLevel::kDebug, "trial ", number, " -> ", slot->name);
  }
}

void Coordinator::FinishTrial(WorkerSlot& slot, const std::variant<msg::Done, msg::Fail>& outcome) {
  const int64_t number = *slot.trial;
  TrialRecord& trial = trials_.at(number);
  const double seconds = std::chrono::duration<double>(Now() - slot.trial_started).count();
  const msg::Done* done = std::get_if<msg::Done>(&outcome);
  const bool pruned = slot.stop_sent || (done != nullptr && done->stopped_early);
  slot.trial.reset();
  slot.stop_sent = false;
  ++finished_this_run_;
  std::ostringstream line;
  char head[64];
  std::snprintf(head, sizeof(head), "[%4lld/%lld] trial %lld ",
                static_cast<long long>(finished_before_ + finished_this_run_),
                static_cast<long long>(std::max(budget_trials_, next_number_)),
                static_cast<long long>(number));
  line << head;
  if (done == nullptr) {
    trial.state = TrialState::kFailed;
    trial.error = std::get<msg::Fail>(outcome).error;
    store_.MarkFailed(trial.id, trial.error, trial.epochs_done);
    curves_[number].state = trial.state;
    line << "FAILED    " << trial.error;
    Print(line.str());
    return;
  }
  const MetricMap& metrics = done->metrics;
  const std::vector<ArtifactRecord>& artifacts = done->artifacts;
  const int epochs = done->epochs;
  TrialCurve& curve = curves_[number];
  if (pruned) {
    // The last reported objective, at the epoch the trial reached; falls back to the final metrics.
    trial.state = TrialState::kPruned;
    trial.epochs_done = std::max(epochs, trial.epochs_done);
    trial.value.reset();
    if (!curve.values.empty()) trial.value = curve.values.rbegin()->second;
    const auto final_value = metrics.find(spec_.objective.metric);
    if (!trial.value && final_value != metrics.end()) trial.value = final_value->second;
    store_.MarkPruned(trial.id, trial.value, metrics, artifacts, trial.epochs_done);
    curve.state = trial.state;
    line << "PRUNED    at epoch " << trial.epochs_done << "/" << spec_.budget.epochs;
    if (trial.value) line << "  " << spec_.objective.metric << "=" << FormatValue(*trial.value);
    line << "  " << ShortParams(trial.params);
    Print(line.str());
    return;
  }
  auto it = metrics.find(spec_.objective.metric);
  if (it == metrics.end() || !std::isfinite(it->second)) {
    trial.state = TrialState::kFailed;
    trial.error =
        "the trainer did not report the objective metric '" + spec_.objective.metric + "'";
    store_.MarkFailed(trial.id, trial.error, epochs);
    curve.state = trial.state;
    line << "FAILED    " << trial.error;
    Print(line.str());
    return;
  }
  trial.state = TrialState::kComplete;
  trial.value = it->second;
  trial.epochs_done = epochs;
  store_.MarkComplete(trial.id, trial.value, metrics, artifacts, epochs);
  curve.state = trial.state;
  NoteBest(number);
  char tail[96];
  std::snprintf(tail, sizeof(tail), "  best %s (trial %lld)  %.1fs  ",
                FormatValue(*trials_.at(*best_number_).value).c_str(),
                static_cast<long long>(*best_number_), seconds);
  line << "COMPLETE  " << spec_.objective.metric << "=" << FormatValue(*trial.value) << tail
       << ShortParams(trial.params);
  Print(line.str());
}

void Coordinator::CheckArtifacts(int64_t number, std::vector<ArtifactRecord>& artifacts) const {
  const std::string folder = ArtifactDir(number);
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const auto inside = msg::PathInside(folder, artifacts[i].path);
    if (!inside) {
      throw ProtocolError("DONE: 'artifacts[" + std::to_string(i) +
                          "].path' is not inside the trial's artifact folder " + folder);
    }
    artifacts[i].path = *inside;
  }
}

void Coordinator::HandleMessage(int peer, const Message& message) {
  if (dropped_peers_.count(peer)) {
    Log(LogLevel::kDebug, "ignoring ", msg::QuotedType(message.type), " from a lost worker");
    return;
  }
  const auto it = workers_.find(peer);
  if (message.type == msg::kHello) {
    if (it != workers_.end()) throw ProtocolError("a second HELLO on the same connection");
    const msg::Hello hello = msg::DecodeHello(message);
    auto slot = std::make_unique<WorkerSlot>();
    slot->name = hello.name;
    slot->store_id = store_.RegisterWorker(study_id_, slot->name, hello.host, hello.pid, "");
    slot->last_seen = Now();
    slot->heartbeat_sent = slot->last_seen;
    workers_[peer] = std::move(slot);
    ++workers_seen_;
    transport_.Send(peer, msg::Encode(msg::Welcome{peer, spec_.ToJson()}));
    return;
  }
  if (it == workers_.end()) {
    throw ProtocolError(msg::QuotedType(message.type) + " before HELLO");
  }
  WorkerSlot& slot = *it->second;
  // The trial a REPORT, DONE or FAIL names must be the one this worker runs.
  const auto check_trial = [&](int64_t number) {
    if (!slot.trial || *slot.trial != number) {
      throw ProtocolError(message.type + " for trial " + std::to_string(number) + ", but " +
                          (slot.trial ? "the worker runs trial " + std::to_string(*slot.trial)
                                      : std::string("the worker runs no trial")));
    }
  };
  const auto check_epochs = [&](int epochs, const char* field) {
    if (epochs > spec_.budget.epochs) {
      throw ProtocolError(message.type + ": '" + field + "' is " + std::to_string(epochs) +
                          ", beyond the study's " + std::to_string(spec_.budget.epochs) +
                          " epochs");
    }
  };
  if (message.type == msg::kReady) {
    const msg::Ready ready = msg::DecodeReady(message);
    slot.last_seen = Now();
    slot.ready = true;
    slot.device = ready.device;
    Print("worker " + slot.name + " ready (" + slot.device + ")");
  } else if (message.type == msg::kReport) {
    const msg::Report report = msg::DecodeReport(message);
    check_trial(report.trial);
    check_epochs(report.epoch, "epoch");
    slot.last_seen = Now();
    const int64_t number = report.trial;
    const int epoch = report.epoch;
    const MetricMap& metrics = report.metrics;
    TrialRecord& trial = trials_.at(number);
    store_.RecordEpoch(trial.id, epoch, metrics);
    trial.epochs_done = epoch;
    std::ostringstream line;
    line << "           trial " << number << " epoch " << epoch << "/" << spec_.budget.epochs;
    for (const auto& [name, value] : metrics) line << "  " << name << "=" << FormatValue(value);
    const auto objective = metrics.find(spec_.objective.metric);
    if (objective != metrics.end()) curves_[number].values[epoch] = objective->second;
    const bool prune = !slot.stop_sent && pruner_->ShouldPrune(number, epoch, curves_);
    if (prune) line << "  -> pruned";
    Print(line.str());
    if (prune || slot.stop_sent) {
      slot.stop_sent = true;
      transport_.Send(peer, msg::Encode(msg::Stop{number}));
    } else {
      transport_.Send(peer, msg::Encode(msg::Continue{number}));
    }
  } else if (message.type == msg::kDone) {
    msg::Done done = msg::DecodeDone(message);
    check_trial(done.trial);
    check_epochs(done.epochs, "epochs");
    CheckArtifacts(done.trial, done.artifacts);
    slot.last_seen = Now();
    FinishTrial(slot, done);
  } else if (message.type == msg::kFail) {
    const msg::Fail fail = msg::DecodeFail(message);
    check_trial(fail.trial);
    slot.last_seen = Now();
    FinishTrial(slot, fail);
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
  const auto it = workers_.find(peer);
  Log(LogLevel::kWarn,
      it != workers_.end() ? "worker " + it->second->name : "peer " + std::to_string(peer),
      ": protocol error: ", error, "; disconnecting it");
  // A worker refused at HELLO (e.g. of another protocol version) is told why.
  if (it == workers_.end() && type == msg::kHello) {
    transport_.Send(peer, msg::Encode(msg::Shutdown{"protocol error: " + error}));
  }
  transport_.Disconnect(peer);
  HandleLost(peer, "protocol error: " + error);
}

void Coordinator::HandleLost(int peer, const std::string& reason) {
  dropped_peers_.insert(peer);  // whatever it sent after this is ignored
  auto it = workers_.find(peer);
  if (it == workers_.end()) return;
  WorkerSlot& slot = *it->second;
  Print("worker " + slot.name + " lost: " + reason);
  if (slot.trial && stopping_) {
    Interrupt(*slot.trial, "stopped by signal (worker " + slot.name + " gone)");
  } else if (slot.trial) {
    TrialRecord& trial = trials_.at(*slot.trial);
    trial.state = TrialState::kStale;
    trial.error = "worker " + slot.name + " lost: " + reason;
    store_.MarkStale(trial.id, trial.error);
    curves_[trial.number].state = trial.state;
    if (Retryable(trial)) {
      pending_.push_front(trial.number);
      Print("           trial " + std::to_string(trial.number) + " is STALE; it will be retried");
    } else {
      Print("           trial " + std::to_string(trial.number) + " is STALE; no retries left");
    }
  }
  store_.MarkWorkerGone(slot.store_id, reason);
  workers_.erase(it);
}

void Coordinator::CheckHeartbeats() {
  const auto now = Now();
  const auto timeout = std::chrono::duration<double>(spec_.resources.heartbeat_timeout_s);
  const auto previous = last_heartbeat_check_;
  last_heartbeat_check_ = now;
  if (previous && now - *previous > timeout) {
    // The coordinator itself was not running (stopped, or its machine suspended): its workers'
    // silence says nothing about them, so each gets a fresh timeout from now.
    char gap[32];
    std::snprintf(gap, sizeof(gap), "%.1fs",
                  std::chrono::duration<double>(now - *previous).count());
    Log(LogLevel::kWarn, "the coordinator did not run for ", gap,
        " (stopped or suspended?), longer than the heartbeat timeout; every worker gets a fresh "
        "timeout");
    for (auto& [peer, slot] : workers_) slot->last_seen = now;
    return;
  }
  std::vector<int> silent;
  for (const auto& [peer, slot] : workers_) {
    if (now - slot->last_seen > timeout) silent.push_back(peer);
  }
  for (int peer : silent) {
    transport_.Disconnect(peer);
    HandleLost(peer, "no message for " +
                         std::to_string(static_cast<int>(spec_.resources.heartbeat_timeout_s)) +
                         "s");
  }
}

void Coordinator::SendHeartbeats() {
  const double interval_s =
      std::min(kHeartbeatEverySeconds, spec_.resources.heartbeat_timeout_s / 3);
  const auto now = Now();
  for (auto& [peer, slot] : workers_) {
    // A worker that runs a trial reads only the answers to its reports, which come at once.
    if (slot->trial) continue;
    if (std::chrono::duration<double>(now - slot->heartbeat_sent).count() < interval_s) continue;
    transport_.Send(peer, msg::Encode(msg::Heartbeat{}));
    slot->heartbeat_sent = now;
  }
}

void Coordinator::Interrupt(int64_t number, const std::string& reason) {
  TrialRecord& trial = trials_.at(number);
  trial.state = TrialState::kQueued;
  trial.error = kInterrupted + reason;
  trial.epochs_done = 0;
  store_.MarkInterrupted(trial.id, trial.error);
  curves_[number] = TrialCurve{};
  curves_[number].state = trial.state;
}

void Coordinator::StopAll(const std::string& reason) {
  for (auto& [peer, slot] : workers_) {
    if (slot->trial) {
      Interrupt(*slot->trial, reason);
      slot->trial.reset();
    }
    transport_.Send(peer, msg::Encode(msg::Shutdown{reason}));
  }
}

RunSummary Coordinator::Run() {
  started_ = Now();
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
    unprinted_.clear();
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
  summary.study_id = study_id_;
  summary.seconds = std::chrono::duration<double>(Now() - started_).count();
  summary.finished_this_run = finished_this_run_;
  for (const auto& [number, trial] : trials_) {
    ++summary.trials;
    summary.complete += trial.state == TrialState::kComplete;
    summary.failed += trial.state == TrialState::kFailed;
    summary.pruned += trial.state == TrialState::kPruned;
    summary.stale += trial.state == TrialState::kStale;
    summary.queued += trial.state == TrialState::kQueued;
  }
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
  if (stopping_) {
    summary.interrupted = true;
    summary.stop_reason =
        "stopped by signal; interrupted trials are queued to run first on the next run";
    StopAll("stopped by signal");
    return true;
  }
  if (options_.expected_workers > 0 && workers_.empty()) {
    const bool all_gone = workers_seen_ >= options_.expected_workers;
    const bool none_came = Now() - started_ > options_.worker_start_timeout;
    if (all_gone || none_came) {
      throw std::runtime_error(
          all_gone ? "every worker exited before the study finished; see their messages above"
                   : "no worker connected within the start timeout");
    }
  }
  Dispatch();
  SendHeartbeats();
  if (Finished()) {
    summary.stop_reason = TimeBudgetSpent() ? "time budget spent"
                          : TargetReached() ? "target value reached"
                                            : "trial budget reached";
    StopAll("study finished");
    return true;
  }
  return false;
}

}  // namespace ensweep
