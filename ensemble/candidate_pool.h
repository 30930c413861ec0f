// Which trials are candidates for an ensemble: the best `candidates` trials by
// the study's objective among COMPLETE ones (PRUNED ones too when asked),
// optionally at most one per configuration family for diversity. A family is
// the tuple of the values of the `one_per` parameters (e.g. [backbone, head]);
// a trial without one of them has null there.
#pragma once

#include <string>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

struct PoolOptions {
  int candidates = 20;               // at most this many; <= 0: no limit
  bool include_pruned = false;       // PRUNED trials with a value join the ranking
  std::vector<std::string> one_per;  // family parameters; empty: no family limit
};

// The family parameters of an ensemble spec: `one_per`, plus `backbone` when
// `one_per_backbone` (the shorthand for one_per: [backbone]), without
// duplicates.
std::vector<std::string> FamilyKeys(const EnsembleSpec& spec);

// A trial's family: the values of `keys` in its parameters, as one comparable
// text.
std::string FamilyOf(const TrialRecord& trial, const std::vector<std::string>& keys);

// The trials that may join (state and value), best first by the objective
// (ties: lower number first), with no count or family limit.
std::vector<TrialRecord> RankEligible(const std::vector<TrialRecord>& trials, bool maximize,
                                      bool include_pruned);

// `trials`: any order and states. Returns the chosen trials best first (ties:
// lower number first), the best of each family when `one_per` is set; trials
// without a value, and states other than COMPLETE (and PRUNED when included),
// never join.
std::vector<TrialRecord> ChooseCandidates(const std::vector<TrialRecord>& trials, bool maximize,
                                          const PoolOptions& options);

}  // namespace ensweep
