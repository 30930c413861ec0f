#include "audit/confident_learning.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace ensweep {

ConfidentLearning FindLabelIssues(const std::vector<double>& probs, const std::vector<int>& labels,
                                  int classes) {
  if (classes < 2) throw std::invalid_argument("confident learning needs at least 2 classes");
  const size_t n = labels.size();
  const size_t k = static_cast<size_t>(classes);
  if (probs.size() != n * k) throw std::invalid_argument("probabilities do not match the labels");
  ConfidentLearning cl;
  cl.classes = classes;
  std::vector<double> sum(k, 0.0);
  std::vector<int64_t> count(k, 0);
  for (size_t i = 0; i < n; ++i) {
    const int y = labels[i];
    if (y < 0 || y >= classes) throw std::invalid_argument("label outside 0 .. classes - 1");
    sum[static_cast<size_t>(y)] += probs[i * k + static_cast<size_t>(y)];
    ++count[static_cast<size_t>(y)];
  }
  cl.thresholds.resize(k);
  for (size_t j = 0; j < k; ++j) {
    cl.thresholds[j] = count[j] > 0 ? sum[j] / static_cast<double>(count[j])
                                    : std::numeric_limits<double>::infinity();
  }
  cl.joint.assign(k, std::vector<int64_t>(k, 0));
  cl.confident.assign(n, -1);
  cl.margin.assign(n, 0.0);
  cl.best_other.assign(n, -1);
  cl.self_confidence.assign(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double* p = &probs[i * k];
    const size_t y = static_cast<size_t>(labels[i]);
    int confident = -1;
    int other = -1;
    for (size_t j = 0; j < k; ++j) {
      if (p[j] >= cl.thresholds[j] && (confident < 0 || p[j] > p[confident])) {
        confident = static_cast<int>(j);
      }
      if (j != y && (other < 0 || p[j] > p[other])) other = static_cast<int>(j);
    }
    cl.confident[i] = confident;
    cl.best_other[i] = other;
    cl.margin[i] = p[y] - p[other];
    cl.self_confidence[i] = p[y];
    if (confident < 0) continue;
    ++cl.joint[y][static_cast<size_t>(confident)];
    if (static_cast<size_t>(confident) != y) cl.issues.push_back(static_cast<int64_t>(i));
  }
  std::stable_sort(cl.issues.begin(), cl.issues.end(), [&](int64_t a, int64_t b) {
    return cl.self_confidence[static_cast<size_t>(a)] < cl.self_confidence[static_cast<size_t>(b)];
  });
  return cl;
}

}  // namespace ensweep
