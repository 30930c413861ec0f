// Confident learning (Northcutt, Jiang and Chuang, "Confident Learning: Estimating Uncertainty in
// Dataset Labels", 2021) on out-of-sample class probabilities: which examples' given labels are
// likely wrong, and what they likely are.
//
//   threshold t_j   the mean predicted probability of class j over the examples labelled j (their
//                   self-confidence); +infinity for a class no example is labelled with
//   confident class of an example: among the classes j with p_j >= t_j, the most probable one
//                   (none when no class reaches its threshold)
//   confident joint C[i][j]: examples labelled i whose confident class is j
//   issue           an example off the joint's diagonal: its confident class is not its label
//
// Issues are ranked by self-confidence p_given, lowest first (cleanlab's default ranking; on the
// synthetic benchmark it orders age errors better than the normalised margin
// p_given - max_{j != given} p_j, which is kept per example too).
#pragma once

#include <cstdint>
#include <vector>

namespace ensweep {

struct ConfidentLearning {
  int classes = 0;
  std::vector<double> thresholds;           // per class
  std::vector<std::vector<int64_t>> joint;  // [given][confident]
  std::vector<int> confident;               // per example; -1 when no class is confident
  std::vector<double> margin;               // per example: normalised margin (-1 .. 1)
  std::vector<int> best_other;              // per example: argmax_{j != given} p_j
  std::vector<double> self_confidence;      // per example: p_given
  std::vector<int64_t> issues;              // off-diagonal examples, lowest p_given first
};

// probs: n rows x `classes` (row-major, each row a distribution); labels: n given labels in
// 0 .. classes - 1. Requires classes >= 2 and matching sizes (std::invalid_argument otherwise).
ConfidentLearning FindLabelIssues(const std::vector<double>& probs, const std::vector<int>& labels,
                                  int classes);

}  // namespace ensweep
