// Classification metrics over integer labels: confusion matrix, accuracy, macro F1.
//
// Macro F1 is scikit-learn's f1_score(average="macro") with its default labels, the score the
// competition used: the mean F1 over the classes that occur in the truth or in the predictions. A
// class that occurs in neither is left out (it does not count as 0), so an evaluation set that
// holds 12 of the 18 classes, predicted perfectly, scores 1. A class predicted but never true, or
// true but never predicted, has F1 0 and counts. When every class occurs (an 18-class validation
// set holding each class), this is the mean over all classes.
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
  // Mean F1 over the classes that occur in the truth or the predictions; 0 for an empty matrix.
  double MacroF1() const;
  // F1 of every class 0..num_classes-1 (0 for a class that occurs in neither).
  std::vector<double> PerClassF1() const;
  // Classes that occur in the truth or the predictions: the ones MacroF1 averages over.
  int PresentClasses() const;
  // Row-major counts, truth-major: counts()[truth * n + predicted].
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  int num_classes_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

// Macro F1 from per-class true-positive, false-positive and false-negative counts (equal sizes),
// as ConfusionMatrix::MacroF1: the mean over the classes with tp + fp + fn > 0, 0 if none.
double MacroF1FromCounts(const std::vector<int64_t>& tp, const std::vector<int64_t>& fp,
                         const std::vector<int64_t>& fn);

ConfusionMatrix Confusion(const std::vector<int>& truth, const std::vector<int>& predicted,
                          int num_classes);

// Index of the largest value of each row (first on ties).
std::vector<int> ArgmaxRows(const std::vector<float>& values, int64_t rows, int64_t cols);

// Mean negative log of the true class's probability, clamped at 1e-15 like scikit-learn.
double LogLoss(const std::vector<float>& probs, int64_t cols, const std::vector<int>& truth);

}  // namespace ensweep
