// A trial's stored predictions, read back through the artifact paths the store records.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/store.h"

namespace ensweep {

struct TrialPredictions {
  int64_t number = 0;
  Matrix val_probs;                  // validation rows x 18
  std::vector<int> val_labels;       // from val_index.csv, one per row
  std::vector<std::string> val_paths;
  std::vector<std::string> val_persons;
  std::optional<Matrix> eval_probs;  // eval rows (info.csv order) x 18, if the study has eval data
};

// Throws UserError naming the trial and file when an artifact is missing, unreadable or
// inconsistent (row counts differ, probabilities not 18 columns).
TrialPredictions LoadTrialPredictions(const Store& store, const TrialRecord& trial);

// Checks that every trial predicted the same validation images in the same order (same split);
// throws UserError naming the first trial that differs.
void CheckSameValidationRows(const std::vector<TrialPredictions>& members);

}  // namespace ensweep
