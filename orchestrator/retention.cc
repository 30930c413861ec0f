#include "orchestrator/retention.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <system_error>

#include "core/artifact_lock.h"

namespace ensweep {
namespace {

const std::string kCheckpointKind = "checkpoint";

bool Ended(TrialState state) {
  return state == TrialState::kComplete || state == TrialState::kPruned ||
         state == TrialState::kFailed;
}

}  // namespace

CheckpointRetention::CheckpointRetention(const StudySpec& spec, Store& store)
    : spec_(spec), store_(store) {}

std::set<int64_t> CheckpointRetention::Kept(const std::vector<TrialRecord>& trials) const {
  std::vector<const TrialRecord*> ranked;
  for (const TrialRecord& t : trials) {
    if (t.state == TrialState::kComplete && t.value && std::isfinite(*t.value)) {
      ranked.push_back(&t);
    }
  }
  const bool maximize = spec_.objective.maximize;
  std::sort(ranked.begin(), ranked.end(), [maximize](const TrialRecord* a, const TrialRecord* b) {
    if (*a->value != *b->value) return maximize ? *a->value > *b->value : *a->value < *b->value;
    return a->number < b->number;  // ties: the earlier trial
  });
  std::set<int64_t> kept;
  for (size_t i = 0; i < ranked.size() && static_cast<int64_t>(i) < spec_.checkpoints.keep; ++i) {
    kept.insert(ranked[i]->number);
  }
  return kept;
}

bool CheckpointRetention::Sweep(const std::vector<TrialRecord>& trials,
                                std::vector<std::string>& notes) {
  if (!enabled()) return true;
  const std::set<int64_t> kept = Kept(trials);
  std::vector<const TrialRecord*> due;
  for (const TrialRecord& t : trials) {
    if (Ended(t.state) && kept.count(t.number) == 0 && swept_.count(t.number) == 0) {
      due.push_back(&t);
    }
  }
  if (due.empty()) return true;
  std::error_code error;
  if (!std::filesystem::is_directory(spec_.artifacts, error)) return true;  // nothing written
  std::optional<ArtifactLock> lock;
  try {
    lock = ArtifactLock::TryExclusive(spec_.artifacts);
  } catch (const std::exception& e) {
    notes.push_back(std::string("checkpoints kept for now: ") + e.what());
    return false;
  }
  if (!lock) return false;  // a reader holds the folder: the next sweep does it
  for (const TrialRecord* t : due) Delete(*t, notes);
  return true;
}

void CheckpointRetention::Delete(const TrialRecord& trial, std::vector<std::string>& notes) {
  std::vector<ArtifactRecord> checkpoints;
  for (const ArtifactRecord& a : store_.Artifacts(trial.id)) {
    if (a.kind.compare(0, kCheckpointKind.size(), kCheckpointKind) == 0) checkpoints.push_back(a);
  }
  if (!checkpoints.empty()) store_.ForgetArtifacts(trial.id, kCheckpointKind);
  for (const ArtifactRecord& a : checkpoints) {
    std::error_code error;
    if (std::filesystem::remove(a.path, error)) {
      ++deleted_;
    } else if (error) {
      notes.push_back("cannot delete " + a.path + ": " + error.message());
    }
  }
  swept_.insert(trial.number);
}

}  // namespace ensweep
