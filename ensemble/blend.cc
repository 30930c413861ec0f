#include "ensemble/blend.h"

#include <stdexcept>

namespace ensweep {

Matrix WeightedAverage(const std::vector<const Matrix*>& matrices,
                       const std::vector<double>& weights) {
  if (matrices.empty() || matrices.size() != weights.size()) {
    throw std::invalid_argument("WeightedAverage needs one weight per matrix");
  }
  double total = 0;
  for (double w : weights) {
    if (w < 0) throw std::invalid_argument("ensemble weights must be non-negative");
    total += w;
  }
  if (total <= 0) throw std::invalid_argument("ensemble weights sum to zero");
  Matrix result;
  result.rows = matrices[0]->rows;
  result.cols = matrices[0]->cols;
  std::vector<double> sum(matrices[0]->values.size(), 0.0);
  for (size_t m = 0; m < matrices.size(); ++m) {
    if (matrices[m]->rows != result.rows || matrices[m]->cols != result.cols) {
      throw std::invalid_argument("ensemble members have different shapes");
    }
    const double w = weights[m] / total;
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += w * matrices[m]->values[i];
  }
  result.values.assign(sum.begin(), sum.end());
  return result;
}

}  // namespace ensweep
