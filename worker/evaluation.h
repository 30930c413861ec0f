// Validation metrics and the confusion-matrix artifact from 18-class probabilities (no LibTorch).
#pragma once

#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep {

// From row-major probabilities (truth.size() rows of 18) and the true 18-class labels: val_loss
// (log loss), val_accuracy, val_macro_f1 over 18 classes, and per task (the argmax class mapped to
// its mask state, gender and age band) val_mask_accuracy, val_mask_f1, val_gender_accuracy,
// val_gender_f1, val_age_accuracy, val_age_f1 (macro F1 over 3, 2, 3).
MetricMap ValidationMetrics(const std::vector<float>& probs, const std::vector<int>& truth);

// Writes the 18 x 18 confusion matrix as CSV: header "truth,0,1,...,17", one row per true class
// with the counts of each predicted class. Throws std::runtime_error if it cannot be written.
void WriteConfusionCsv(const std::string& path, const std::vector<float>& probs,
                       const std::vector<int>& truth);

}  // namespace ensweep
