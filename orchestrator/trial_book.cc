#include "orchestrator/trial_book.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "core/text.h"

namespace ensweep {
namespace {

bool Better(double a, double b, bool maximize) { return maximize ? a > b : a < b; }

}  // namespace

void CheckStoredStudy(const StudySpec& spec, const Store& store, RunObserver& observer) {
  const auto stored = store.FindStudy(spec.name);
  if (!stored || stored->trial_count == 0) return;
  const std::string file = spec.source_path.empty() ? "the study" : spec.source_path;
  const auto direction = [](bool maximize) { return maximize ? "maximize" : "minimize"; };
  if (stored->metric != spec.objective.metric || stored->maximize != spec.objective.maximize) {
    throw UserError(file + ": 'objective': study '" + spec.name + "' in " + spec.storage +
                    " already has " + CountOf(stored->trial_count, "trial") + " ranked by " +
                    stored->metric + " (" + direction(stored->maximize) + "), but this file " +
                    "gives " + spec.objective.metric + " (" + direction(spec.objective.maximize) +
                    "; the trainer's default when the file has no 'objective'); one study ranks "
                    "its trials on one objective: write `objective: {metric: " +
                    stored->metric + ", direction: " + direction(stored->maximize) +
                    "}` to keep it, or give this file a new 'study' name to start a new study");
  }
  // The enqueue list the study last ran with (taken as unchanged for a spec without one).
  const std::vector<Json> stored_enqueue =
      stored->spec.contains("enqueue") && stored->spec["enqueue"].is_array()
          ? stored->spec["enqueue"].get<std::vector<Json>>()
          : spec.enqueue;
  if (spec.sampler.type == SamplerType::kGrid && stored_enqueue != spec.enqueue) {
    throw UserError(file +
                    ": 'enqueue': the grid sampler numbers its points after the enqueued "
                    "trials, so the list cannot change once the study has trials (" +
                    CountOf(static_cast<long long>(stored_enqueue.size()), "entry") +
                    " when it last ran, " +
                    CountOf(static_cast<long long>(spec.enqueue.size()), "entry") +
                    " now); restore it, or start a new study");
  }
  // The stored spec names the scope only when it is last (core/study.cc).
  const std::string scope = spec.objective.best_epoch ? "best" : "last";
  const std::string stored_scope =
      stored->spec.contains("objective") && stored->spec["objective"].is_object()
          ? stored->spec["objective"].value("scope", "best")
          : "best";
  if (stored_scope != scope) {
    observer.Note("study " + spec.name + ": objective.scope is " + scope + " but the stored " +
                  "trials were valued on their " + stored_scope + " epoch; they keep their values");
  }
  const Json space = spec.ToJson().value("space", Json::object());
  if (stored->spec.value("space", Json::object()) != space) {
    observer.Note("study " + spec.name +
                  ": the space differs from the stored study's; trials already run keep their "
                  "parameters, new ones follow this file");
  }
}

TrialBook::TrialBook(const StudySpec& spec, Store& store, const Pruner& pruner,
                     RunObserver& observer, int64_t planned)
    : spec_(spec), store_(store), pruner_(pruner), observer_(observer), planned_(planned) {}

size_t TrialBook::Index(int64_t number) const {
  // Numbers are usually 0..n-1, so a trial sits at its number; a store with gaps is searched.
  if (number >= 0 && static_cast<size_t>(number) < trials_.size() &&
      trials_[static_cast<size_t>(number)].number == number) {
    return static_cast<size_t>(number);
  }
  const auto it =
      std::lower_bound(trials_.begin(), trials_.end(), number,
                       [](const TrialRecord& trial, int64_t n) { return trial.number < n; });
  if (it == trials_.end() || it->number != number) {
    throw std::out_of_range("no trial " + std::to_string(number) + " in the study");
  }
  return static_cast<size_t>(it - trials_.begin());
}

void TrialBook::Open(int64_t study_id, bool read_curves) {
  study_id_ = study_id;
  const Loaded loaded = Load(read_curves);
  resumed_ = loaded.trials > 0;  // a new study's enqueued trials are not a resume
  const int64_t queued_now = QueueEnqueued();
  const int retry = QueueWaiting();
  const Counts counts = Count();
  RunObserver::Opened opened;
  opened.complete = counts.complete;
  opened.pruned = counts.pruned;
  opened.failed = finished_before_ - counts.complete - counts.pruned;  // STALE for good too
  opened.planned = planned_;
  opened.best = best();
  observer_.StudyOpened(opened);
  if (!resumed_) return;
  std::ostringstream line;
  line << "study " << spec_.name << ": resuming with " << CountOf(loaded.trials, "trial") << " ("
       << loaded.complete << " complete";
  if (loaded.queued > 0) line << ", " << loaded.queued << " queued";
  if (loaded.left_running > 0) {
    line << ", " << loaded.left_running << " left running by the previous run";
  }
  if (retry > 0) line << ", " << retry << " to retry";
  line << ")";
  if (queued_now > 0) {
    line << "; " << CountOf(queued_now, "new enqueued trial") << " from the study file";
  }
  observer_.Note(line.str());
}

TrialBook::Loaded TrialBook::Load(bool read_curves) {
  Loaded loaded;
  loaded.left_running =
      store_.MarkAllRunningStale(study_id_, "the previous run stopped while it ran");
  trials_ = store_.Trials(study_id_);  // by number
  for (const TrialRecord& trial : trials_) {
    next_number_ = std::max(next_number_, trial.number + 1);
    TrialCurve& curve = curves_[trial.number];
    curve.state = trial.state;
    if (read_curves && trial.epochs_done > 0) {
      for (const auto& epoch : store_.Epochs(trial.id)) {
        const auto it = epoch.metrics.find(spec_.objective.metric);
        if (it != epoch.metrics.end()) curve.values[epoch.epoch] = it->second;
      }
    }
    NoteBest(trial);
    loaded.complete += trial.state == TrialState::kComplete;
    loaded.queued += trial.state == TrialState::kQueued;
    finished_before_ +=
        IsFinished(trial.state) || (trial.state == TrialState::kStale && !Retryable(trial));
  }
  loaded.trials = static_cast<int64_t>(trials_.size());
  planned_ = std::max(planned_, next_number_);
  return loaded;
}

void TrialBook::AddQueued(const Json& params) {
  TrialRecord trial;
  trial.study_id = study_id_;
  trial.number = next_number_++;
  trial.params = params;
  trial.seed = TrialSeed(spec_, trial.number);
  trial.id =
      store_.AddTrial(study_id_, trial.number, TrialState::kQueued, trial.params, trial.seed);
  curves_[trial.number].state = trial.state;
  trials_.push_back(std::move(trial));
  planned_ = std::max(planned_, next_number_);
}

int64_t TrialBook::QueueEnqueued() {
  // Every entry of `enqueue` runs once per study: on a new study they are trials 0, 1, ...;
  // entries the file has gained join a resumed study as its next trials. What has been queued
  // is kept in the store, entry by entry (a list only added to), so an entry left out for one
  // run and then restored is not run twice. (Stores from before that record get it from their
  // stored spec when they are migrated: core/store.cc.)
  const std::string record_key = "enqueued/" + std::to_string(study_id_);
  std::vector<Json> queued_ever;
  if (const auto text = store_.Meta(record_key)) {
    queued_ever = Json::parse(*text).get<std::vector<Json>>();
  }
  std::vector<Json> unmatched = queued_ever;
  int64_t queued_now = 0;
  for (const Json& entry : spec_.enqueue) {
    const auto seen = std::find(unmatched.begin(), unmatched.end(), entry);
    if (seen != unmatched.end()) {
      unmatched.erase(seen);
      continue;
    }
    queued_ever.push_back(entry);
    AddQueued(entry);
    ++queued_now;
  }
  store_.SetMeta(record_key, Json(queued_ever).dump());
  return queued_now;
}

int TrialBook::QueueWaiting() {
  pending_.clear();
  for (const TrialRecord& trial : trials_) {
    if (trial.state == TrialState::kQueued) pending_.push_back(trial.number);
  }
  int retry = 0;
  for (const TrialRecord& trial : trials_) {  // after the queued ones: retries come second
    if (Retryable(trial)) {
      pending_.push_back(trial.number);
      ++retry;
    }
  }
  return retry;
}

std::optional<int64_t> TrialBook::TakeQueued() {
  if (pending_.empty()) return std::nullopt;
  const int64_t number = pending_.front();
  pending_.pop_front();
  return number;
}

bool TrialBook::Retryable(const TrialRecord& trial) const {
  return trial.state == TrialState::kStale && trial.retries < spec_.resources.max_retries;
}

const TrialRecord& TrialBook::Start(int64_t number, const std::string& worker, const Json& params) {
  TrialRecord& trial = At(number);
  if (trial.state == TrialState::kStale) {
    store_.MarkRetried(trial.id, worker);
    ++trial.retries;
  } else {
    trial.params = params;
    store_.MarkRunning(trial.id, worker, trial.params);
  }
  trial.state = TrialState::kRunning;
  trial.worker = worker;
  trial.epochs_done = 0;
  curves_[number] = TrialCurve{};  // a retry starts with no epochs from its lost attempt
  observer_.TrialStarted(trial);
  return trial;
}

const TrialRecord& TrialBook::StartNew(const std::string& worker, const Json& params) {
  TrialRecord trial;
  trial.study_id = study_id_;
  trial.number = next_number_++;
  trial.seed = TrialSeed(spec_, trial.number);
  trial.params = params;
  trial.state = TrialState::kRunning;
  trial.id =
      store_.AddTrial(study_id_, trial.number, TrialState::kRunning, trial.params, trial.seed);
  trials_.push_back(std::move(trial));
  planned_ = std::max(planned_, next_number_);
  return Start(trials_.back().number, worker, trials_.back().params);
}

bool TrialBook::RecordEpoch(int64_t number, int epoch, const MetricMap& metrics, bool stopping) {
  TrialRecord& trial = At(number);
  store_.RecordEpoch(trial.id, epoch, metrics);
  trial.epochs_done = epoch;
  const auto objective = metrics.find(spec_.objective.metric);
  if (objective != metrics.end()) curves_[number].values[epoch] = objective->second;
  const bool prune = !stopping && pruner_.ShouldPrune(number, epoch, curves_);
  observer_.EpochRecorded(trial, epoch, metrics, prune);
  return prune;
}

void TrialBook::Finish(int64_t number, const MetricMap& metrics,
                       const std::vector<ArtifactRecord>& artifacts, int epochs, bool pruned,
                       double seconds) {
  TrialRecord& trial = At(number);
  TrialCurve& curve = curves_[number];
  if (pruned) {
    // The last reported objective, at the epoch the trial reached (scope last), or the best one
    // (scope best); falls back to the final metrics.
    trial.state = TrialState::kPruned;
    trial.epochs_done = std::max(epochs, trial.epochs_done);
    trial.value.reset();
    for (const auto& [epoch, value] : curve.values) {
      if (!spec_.objective.best_epoch || !trial.value ||
          Better(value, *trial.value, spec_.objective.maximize)) {
        trial.value = value;
      }
    }
    const auto final_value = metrics.find(spec_.objective.metric);
    if (!trial.value && final_value != metrics.end()) trial.value = final_value->second;
    store_.MarkPruned(trial.id, trial.value, metrics, artifacts, trial.epochs_done);
  } else {
    const auto it = metrics.find(spec_.objective.metric);
    if (it == metrics.end() || !std::isfinite(it->second)) {
      trial.state = TrialState::kFailed;
      trial.error =
          "the trainer did not report the objective metric '" + spec_.objective.metric + "'";
      store_.MarkFailed(trial.id, trial.error, epochs);
    } else {
      trial.state = TrialState::kComplete;
      trial.value = it->second;
      trial.epochs_done = epochs;
      store_.MarkComplete(trial.id, trial.value, metrics, artifacts, epochs);
      NoteBest(trial);
    }
  }
  curve.state = trial.state;
  Ended(trial, seconds);
}

void TrialBook::Fail(int64_t number, const std::string& error, double seconds) {
  TrialRecord& trial = At(number);
  trial.state = TrialState::kFailed;
  trial.error = error;
  store_.MarkFailed(trial.id, trial.error, trial.epochs_done);
  curves_[number].state = trial.state;
  Ended(trial, seconds);
}

void TrialBook::Ended(const TrialRecord& trial, double seconds) {
  ++finished_this_run_;
  observer_.TrialEnded({trial, finished_before_ + finished_this_run_, planned_, best(), seconds});
}

void TrialBook::Stale(int64_t number, const std::string& reason) {
  TrialRecord& trial = At(number);
  trial.state = TrialState::kStale;
  trial.error = reason;
  store_.MarkStale(trial.id, trial.error);
  curves_[number].state = trial.state;
  const bool retry = Retryable(trial);
  if (retry) {
    pending_.push_front(number);
  } else {
    ++finished_this_run_;  // it has ended for good, as finished_before_ counts it
  }
  observer_.TrialStale(trial, retry);
}

void TrialBook::Interrupt(int64_t number, const std::string& reason) {
  TrialRecord& trial = At(number);
  trial.state = TrialState::kQueued;
  trial.error = kInterruptedPrefix + reason;
  trial.epochs_done = 0;
  store_.MarkInterrupted(trial.id, trial.error);
  pending_.push_front(number);  // first in line, when the run goes on (a worker was stopped)
  curves_[number] = TrialCurve{};
  curves_[number].state = trial.state;
  observer_.TrialRequeued(trial);
}

std::string TrialBook::ArtifactDir(int64_t number) const {
  char name[32];
  std::snprintf(name, sizeof(name), "trial-%05lld", static_cast<long long>(number));
  return (std::filesystem::path(spec_.artifacts) / name).string();
}

TrialBook::Counts TrialBook::Count() const {
  Counts counts;
  for (const TrialRecord& trial : trials_) {
    ++counts.trials;
    counts.complete += trial.state == TrialState::kComplete;
    counts.failed += trial.state == TrialState::kFailed;
    counts.pruned += trial.state == TrialState::kPruned;
    counts.stale += trial.state == TrialState::kStale;
    counts.queued += trial.state == TrialState::kQueued;
  }
  return counts;
}

void TrialBook::NoteBest(const TrialRecord& trial) {
  if (trial.state != TrialState::kComplete || !trial.value || !std::isfinite(*trial.value)) return;
  if (!best_ || Better(*trial.value, *Get(*best_).value, spec_.objective.maximize)) {
    best_ = trial.number;
  }
}

}  // namespace ensweep
