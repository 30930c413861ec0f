#include "ensemble/candidate_pool.h"

#include <algorithm>
#include <set>

namespace ensweep {

std::vector<std::string> FamilyKeys(const EnsembleSpec& spec) {
  std::vector<std::string> keys = spec.one_per;
  if (spec.one_per_backbone && std::find(keys.begin(), keys.end(), "backbone") == keys.end()) {
    keys.insert(keys.begin(), "backbone");
  }
  return keys;
}

std::string FamilyOf(const TrialRecord& trial, const std::vector<std::string>& keys) {
  Json values = Json::array();
  for (const auto& key : keys) {
    const auto it = trial.params.find(key);
    values.push_back(it != trial.params.end() ? *it : Json());
  }
  return values.dump();
}

std::vector<TrialRecord> RankEligible(const std::vector<TrialRecord>& trials, bool maximize,
                                      bool include_pruned) {
  std::vector<TrialRecord> ranked;
  for (const auto& t : trials) {
    const bool state_ok =
        t.state == TrialState::kComplete || (include_pruned && t.state == TrialState::kPruned);
    if (state_ok && t.value) ranked.push_back(t);
  }
  std::sort(ranked.begin(), ranked.end(), [&](const TrialRecord& a, const TrialRecord& b) {
    if (*a.value != *b.value) return maximize ? *a.value > *b.value : *a.value < *b.value;
    return a.number < b.number;
  });
  return ranked;
}

std::vector<TrialRecord> ChooseCandidates(const std::vector<TrialRecord>& trials, bool maximize,
                                          const PoolOptions& options) {
  std::vector<TrialRecord> chosen;
  std::set<std::string> families;
  for (const auto& t : RankEligible(trials, maximize, options.include_pruned)) {
    if (options.candidates > 0 && static_cast<int>(chosen.size()) >= options.candidates) break;
    if (!options.one_per.empty() && !families.insert(FamilyOf(t, options.one_per)).second) {
      continue;
    }
    chosen.push_back(t);
  }
  return chosen;
}

}  // namespace ensweep
