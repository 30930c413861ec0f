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
  // Only the best `keep` need an order (the sweep runs after every round in which a trial ended).
  const auto top =
      ranked.begin() + static_cast<std::ptrdiff_t>(std::min<int64_t>(
                           spec_.checkpoints.keep, static_cast<int64_t>(ranked.size())));
  std::partial_sort(ranked.begin(), top, ranked.end(),
                    [maximize](const TrialRecord* a, const TrialRecord* b) {
                      if (*a->value != *b->value) {
                        return maximize ? *a->value > *b->value : *a->value < *b->value;
                      }
                      return a->number < b->number;  // ties: the earlier trial
                    });
  std::set<int64_t> kept;
  for (auto it = ranked.begin(); it != top; ++it) kept.insert((*it)->number);
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
  // Every due trial's checkpoint rows go in one transaction, before any of their files.
  std::vector<ArtifactRecord> checkpoints;
  Store::Batch batch(store_);
  for (const TrialRecord* t : due) {
    const size_t before = checkpoints.size();
    for (const ArtifactRecord& a : store_.Artifacts(t->id)) {
      if (a.kind.compare(0, kCheckpointKind.size(), kCheckpointKind) == 0) checkpoints.push_back(a);
    }
    if (checkpoints.size() > before) store_.ForgetArtifacts(t->id, kCheckpointKind);
  }
  batch.Commit();
  for (const TrialRecord* t : due) swept_.insert(t->number);
  for (const ArtifactRecord& a : checkpoints) {
    std::error_code error;
    if (std::filesystem::remove(a.path, error)) {
      ++deleted_;
    } else if (error) {
      notes.push_back("cannot delete " + a.path + ": " + error.message());
    }
  }
  return true;
}

}  // namespace ensweep
