// Which trials are candidates for an ensemble: the best `candidates` trials by
// the study's objective among COMPLETE ones (PRUNED ones too when asked),
// optionally at most one per backbone (the `backbone` parameter; trials without
// one share the family "") for diversity.
#pragma once

#include <vector>

#include "core/trial.h"

namespace ensweep {

struct PoolOptions {
  int candidates = 20;          // at most this many; <= 0: no limit
  bool include_pruned = false;  // PRUNED trials with a value join the ranking
  bool one_per_backbone = false;
};

// `trials`: any order and states. Returns the chosen trials best first (ties:
// lower number first); trials without a value, and states other than COMPLETE
// (and PRUNED when included), never join.
std::vector<TrialRecord> ChooseCandidates(const std::vector<TrialRecord>& trials, bool maximize,
                                          const PoolOptions& options);

}  // namespace ensweep
