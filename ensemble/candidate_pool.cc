#include "ensemble/candidate_pool.h"

#include <algorithm>
#include <set>
#include <string>

namespace ensweep {

std::vector<TrialRecord> ChooseCandidates(const std::vector<TrialRecord>& trials, bool maximize,
                                          const PoolOptions& options) {
  std::vector<TrialRecord> ranked;
  for (const auto& t : trials) {
    const bool state_ok = t.state == TrialState::kComplete ||
                          (options.include_pruned && t.state == TrialState::kPruned);
    if (state_ok && t.value) ranked.push_back(t);
  }
  std::sort(ranked.begin(), ranked.end(), [&](const TrialRecord& a, const TrialRecord& b) {
    if (*a.value != *b.value) return maximize ? *a.value > *b.value : *a.value < *b.value;
    return a.number < b.number;
  });
  std::vector<TrialRecord> chosen;
  std::set<std::string> families;
  for (const auto& t : ranked) {
    if (options.candidates > 0 && static_cast<int>(chosen.size()) >= options.candidates) break;
    if (options.one_per_backbone) {
      const auto it = t.params.find("backbone");
      const std::string family =
          it != t.params.end() && it->is_string() ? it->get<std::string>() : std::string();
      if (!families.insert(family).second) continue;
    }
    chosen.push_back(t);
  }
  return chosen;
}

}  // namespace ensweep
