#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ensweep {

ConfusionMatrix::ConfusionMatrix(int num_classes)
    : num_classes_(num_classes), counts_(static_cast<size_t>(num_classes) * num_classes, 0) {
  if (num_classes < 1) throw std::invalid_argument("ConfusionMatrix needs at least one class");
}

void ConfusionMatrix::Add(int truth, int predicted) {
  if (truth < 0 || truth >= num_classes_ || predicted < 0 || predicted >= num_classes_) {
    throw std::out_of_range("label outside [0, " + std::to_string(num_classes_) + ")");
  }
  ++counts_[static_cast<size_t>(truth) * num_classes_ + predicted];
  ++total_;
}

double ConfusionMatrix::Accuracy() const {
  if (total_ == 0) return 0.0;
  int64_t correct = 0;
  for (int c = 0; c < num_classes_; ++c) correct += count(c, c);
  return static_cast<double>(correct) / static_cast<double>(total_);
}

std::vector<double> ConfusionMatrix::PerClassF1() const {
  std::vector<double> f1(num_classes_, 0.0);
  for (int c = 0; c < num_classes_; ++c) {
    int64_t true_count = 0, predicted_count = 0;
    for (int k = 0; k < num_classes_; ++k) {
      true_count += count(c, k);
      predicted_count += count(k, c);
    }
    const int64_t denominator = true_count + predicted_count;
    // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (|true| + |predicted|); 0 when both are empty.
    f1[c] = denominator == 0 ? 0.0 : 2.0 * static_cast<double>(count(c, c)) / denominator;
  }
  return f1;
}

int ConfusionMatrix::PresentClasses() const {
  int present = 0;
  for (int c = 0; c < num_classes_; ++c) {
    bool occurs = false;
    for (int k = 0; k < num_classes_ && !occurs; ++k) occurs = count(c, k) > 0 || count(k, c) > 0;
    present += occurs ? 1 : 0;
  }
  return present;
}

double ConfusionMatrix::MacroF1() const {
  std::vector<int64_t> tp(static_cast<size_t>(num_classes_)), fp(tp.size()), fn(tp.size());
  for (int t = 0; t < num_classes_; ++t) {
    for (int p = 0; p < num_classes_; ++p) {
      if (t == p) {
        tp[static_cast<size_t>(t)] += count(t, p);
      } else {
        fp[static_cast<size_t>(p)] += count(t, p);
        fn[static_cast<size_t>(t)] += count(t, p);
      }
    }
  }
  return MacroF1FromCounts(tp, fp, fn);
}

double MacroF1FromCounts(const std::vector<int64_t>& tp, const std::vector<int64_t>& fp,
                         const std::vector<int64_t>& fn) {
  double total = 0;
  int64_t present = 0;
  for (size_t k = 0; k < tp.size(); ++k) {
    // F1 = 2 TP / (2 TP + FP + FN); the denominator is 0 exactly when the class occurs in neither
    // the truth (TP + FN) nor the predictions (TP + FP).
    const int64_t denominator = 2 * tp[k] + fp[k] + fn[k];
    if (denominator == 0) continue;
    total += 2.0 * static_cast<double>(tp[k]) / static_cast<double>(denominator);
    ++present;
  }
  return present == 0 ? 0.0 : total / static_cast<double>(present);
}

ConfusionMatrix Confusion(const std::vector<int>& truth, const std::vector<int>& predicted,
                          int num_classes) {
  if (truth.size() != predicted.size()) {
    throw std::invalid_argument("truth and predictions differ in length");
  }
  ConfusionMatrix matrix(num_classes);
  for (size_t i = 0; i < truth.size(); ++i) matrix.Add(truth[i], predicted[i]);
  return matrix;
}

std::vector<int> ArgmaxRows(const std::vector<float>& values, int64_t rows, int64_t cols) {
  std::vector<int> result(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * cols;
    result[static_cast<size_t>(r)] = static_cast<int>(std::max_element(row, row + cols) - row);
  }
  return result;
}

double LogLoss(const std::vector<float>& probs, int64_t cols, const std::vector<int>& truth) {
  if (truth.empty()) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double p = probs[i * static_cast<size_t>(cols) + static_cast<size_t>(truth[i])];
    sum -= std::log(std::clamp(p, 1e-15, 1.0));
  }
  return sum / static_cast<double>(truth.size());
}

}  // namespace ensweep
