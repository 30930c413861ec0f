// Loading the stored predictions of an ensemble's candidate trials, with the policy for a
// candidate whose prediction files are missing or corrupt.
#pragma once

#include <string>
#include <vector>

#include "core/store.h"
#include "ensemble/predictions.h"

namespace ensweep {

struct LoadedCandidates {
  std::vector<TrialPredictions> predictions;  // in pool order, the skipped ones left out
  std::vector<std::string> skipped;           // one message per skipped trial, naming it
};

// Loads every trial of `pool`. A trial whose validation predictions (or, with `need_eval`, eval
// predictions) are missing, unreadable or inconsistent raises UserError naming the trial and the
// file, unless `skip_missing`, which leaves the trial out and records why. All loaded trials must
// share the validation rows (CheckSameValidationRows) and the number of eval rows; throws
// UserError if none is left.
LoadedCandidates LoadCandidates(const Store& store, const std::vector<TrialRecord>& pool,
                                bool need_eval, bool skip_missing);

}  // namespace ensweep
