// Blending class probabilities: a weighted average of equally shaped matrices.
#pragma once

#include <vector>

#include "core/npy.h"

namespace ensweep {

// sum_i weights[i] * matrices[i] / sum_i weights[i]. All matrices must share a shape and the
// weights be non-negative with a positive sum; throws std::invalid_argument otherwise.
Matrix WeightedAverage(const std::vector<const Matrix*>& matrices,
                       const std::vector<double>& weights);

}  // namespace ensweep
