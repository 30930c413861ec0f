// The input of every ensemble selection method: the validation probabilities of
// C candidate trials over the same R rows and K classes, stacked in one
// contiguous array, plus the true labels.
//
// Pure data and arithmetic, no I/O, so selection is unit-testable on hand-built
// matrices. Weights are per candidate, non-negative and (for a blend) summing
// to one; a blend is sum_c w_c * P_c.
#pragma once

#include <cstdint>
#include <vector>

#include "core/npy.h"

namespace ensweep {

struct CandidateStack {
  int64_t candidates = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> probs;  // candidates x rows x cols, row-major per candidate
  std::vector<int> labels;   // rows, each in [0, cols)

  const float* Candidate(int64_t c) const { return probs.data() + c * rows * cols; }
  float at(int64_t c, int64_t r, int64_t k) const { return probs[(c * rows + r) * cols + k]; }
};

// Stacks equally shaped matrices. Throws std::invalid_argument if the shapes or
// the label count differ or a label is out of range.
CandidateStack StackCandidates(const std::vector<const Matrix*>& matrices,
                               const std::vector<int>& labels);

// The same candidates restricted to `rows` (indices in [0, stack.rows), in the
// order given).
CandidateStack TakeRows(const CandidateStack& stack, const std::vector<int64_t>& rows);

// The candidates at `indices` (each in [0, stack.candidates), in the order
// given), every row.
CandidateStack TakeCandidates(const CandidateStack& stack, const std::vector<int64_t>& indices);

// sum_c weights[c] * P_c / sum_c weights[c] as a rows x cols matrix. `weights`
// has one entry per candidate, non-negative with a positive sum; throws
// std::invalid_argument otherwise.
Matrix Blend(const CandidateStack& stack, const std::vector<double>& weights);

struct BlendScore {
  double macro_f1 = 0;
  double accuracy = 0;
  double log_loss = 0;  // mean -log p(true class), clamped at 1e-15 as in core/metrics.h
};

// Scores the blend with `weights` against the stack's labels (macro F1 over all
// `cols` classes).
BlendScore ScoreBlend(const CandidateStack& stack, const std::vector<double>& weights);

// Each candidate alone (weight one on it), in candidate order.
std::vector<BlendScore> ScoreEachCandidate(const CandidateStack& stack);

}  // namespace ensweep
