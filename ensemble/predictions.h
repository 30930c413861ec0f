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
  Matrix val_probs;             // validation rows x C (C classes; 18 for mask data)
  std::vector<int> val_labels;  // from val_index.csv, one per row
  std::vector<std::string> val_paths;
  std::vector<std::string> val_persons;
  std::optional<Matrix> eval_probs;  // eval rows (eval order) x C, if the study has eval data
};

// Throws UserError naming the trial and file when an artifact is missing, unreadable or
// inconsistent: row counts differ, fewer than 2 columns, eval and validation probabilities with
// different column counts, a label outside 0 .. C-1, or, when num_classes > 0, C != num_classes.
// num_classes 0 takes C from the file.
TrialPredictions LoadTrialPredictions(const Store& store, const TrialRecord& trial,
                                      int num_classes = 0);

// Checks that every trial predicted the same validation images in the same order (same split) with
// the same number of classes; throws UserError naming the first trial that differs.
void CheckSameValidationRows(const std::vector<TrialPredictions>& members);

}  // namespace ensweep
