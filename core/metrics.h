// Classification metrics over integer labels: confusion matrix, accuracy, macro F1.
//
// Macro F1 follows scikit-learn's f1_score(average="macro") with labels=range(num_classes): every
// class counts, and a class with no true and no predicted samples has F1 0. (The competition
// scores over all 18 classes.)
#pragma once

#include <cstdint>
#include <vector>

namespace ensweep {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);
  void Add(int truth, int predicted);  // both in [0, num_classes)
  int num_classes() const { return num_classes_; }
  int64_t count(int truth, int predicted) const {
    return counts_[truth * num_classes_ + predicted];
  }
  int64_t total() const { return total_; }
  double Accuracy() const;
  double MacroF1() const;
  std::vector<double> PerClassF1() const;
  // Row-major counts, truth-major: counts()[truth * n + predicted].
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  int num_classes_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

ConfusionMatrix Confusion(const std::vector<int>& truth, const std::vector<int>& predicted,
                          int num_classes);

// Index of the largest value of each row (first on ties).
std::vector<int> ArgmaxRows(const std::vector<float>& values, int64_t rows, int64_t cols);

// Mean negative log of the true class's probability, clamped at 1e-15 like scikit-learn.
double LogLoss(const std::vector<float>& probs, int64_t cols, const std::vector<int>& truth);

}  // namespace ensweep
