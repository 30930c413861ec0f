// Validation metrics and the confusion-matrix artifact from class probabilities (no LibTorch).
#pragma once

#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep {

// From row-major probabilities (truth.size() rows of num_classes) and the true labels (0 ..
// num_classes - 1): val_loss (log loss), val_accuracy, val_macro_f1 over num_classes classes, and,
// with mask_tasks (the mask format's 18 classes), per task (the argmax class mapped to its mask
// state, gender and age band) val_mask_accuracy, val_mask_f1, val_gender_accuracy, val_gender_f1,
// val_age_accuracy, val_age_f1 (macro F1 over 3, 2, 3). Throws std::invalid_argument if the sizes
// disagree or mask_tasks is set with num_classes other than 18.
MetricMap ValidationMetrics(const std::vector<float>& probs, const std::vector<int>& truth,
                            int num_classes, bool mask_tasks);

// Writes the C x C confusion matrix (C = class_names.size()) as CSV: header
// "truth,<name 0>,...,<name C-1>", one row per true class, first the class name, then the counts of
// each predicted class. Throws std::runtime_error if it cannot be written.
void WriteConfusionCsv(const std::string& path, const std::vector<float>& probs,
                       const std::vector<int>& truth, const std::vector<std::string>& class_names);

}  // namespace ensweep
