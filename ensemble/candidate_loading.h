// Loading the stored predictions of an ensemble's candidate trials, with the
// policy for a candidate whose prediction files are missing or corrupt, and
// test-time augmentation.
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

// One trial's predictions with the ensemble's `tta` ("none" | "hflip"). With
// "hflip", a trial whose own parameter `tta` is not hflip gets (val_probs +
// val_probs_hflip) / 2, and the same for eval_probs with eval_probs_hflip; a
// trial trained with tta: hflip already stores that average and is used as
// stored. Throws UserError naming the trial and the file when an artifact is
// missing (including an hflip view), unreadable or inconsistent, or, with
// `need_eval`, when it has no eval predictions.
TrialPredictions LoadCandidate(const Store& store, const TrialRecord& trial, bool need_eval,
                               const std::string& tta = "none");

// Loads every trial of `pool` (LoadCandidate). A trial that fails raises
// UserError, unless `skip_missing`, which leaves the trial out and records why.
// All loaded trials must share the validation rows (CheckSameValidationRows;
// out-of-fold and hold-out predictions never mix) and the number of eval rows;
// throws UserError if none is left.
LoadedCandidates LoadCandidates(const Store& store, const std::vector<TrialRecord>& pool,
                                bool need_eval, bool skip_missing, const std::string& tta = "none");

// Loads `trials` for the honest estimate's wider pool, quietly leaving out any
// that fails to load or does not share `reference`'s validation rows (and eval
// row count).
std::vector<TrialPredictions> LoadCompatible(const Store& store,
                                             const std::vector<TrialRecord>& trials,
                                             const TrialPredictions& reference, bool need_eval,
                                             const std::string& tta);

}  // namespace ensweep
