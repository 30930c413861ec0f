#include "ensemble/candidate_stack.h"

#include <stdexcept>

#include "core/metrics.h"

namespace ensweep {

CandidateStack StackCandidates(const std::vector<const Matrix*>& matrices,
                               const std::vector<int>& labels) {
  if (matrices.empty()) throw std::invalid_argument("no candidates to stack");
  CandidateStack stack;
  stack.candidates = static_cast<int64_t>(matrices.size());
  stack.rows = matrices[0]->rows;
  stack.cols = matrices[0]->cols;
  if (static_cast<int64_t>(labels.size()) != stack.rows) {
    throw std::invalid_argument("one label per validation row is needed");
  }
  for (int label : labels) {
    if (label < 0 || label >= stack.cols) throw std::invalid_argument("label out of range");
  }
  stack.labels = labels;
  stack.probs.reserve(static_cast<size_t>(stack.candidates * stack.rows * stack.cols));
  for (const Matrix* m : matrices) {
    if (m->rows != stack.rows || m->cols != stack.cols) {
      throw std::invalid_argument("candidates have different shapes");
    }
    stack.probs.insert(stack.probs.end(), m->values.begin(), m->values.end());
  }
  return stack;
}

CandidateStack TakeRows(const CandidateStack& stack, const std::vector<int64_t>& rows) {
  CandidateStack out;
  out.candidates = stack.candidates;
  out.rows = static_cast<int64_t>(rows.size());
  out.cols = stack.cols;
  out.probs.reserve(static_cast<size_t>(out.candidates * out.rows * out.cols));
  for (int64_t c = 0; c < stack.candidates; ++c) {
    for (int64_t r : rows) {
      if (r < 0 || r >= stack.rows) throw std::invalid_argument("row index out of range");
      const float* p = stack.Candidate(c) + r * stack.cols;
      out.probs.insert(out.probs.end(), p, p + stack.cols);
    }
  }
  for (int64_t r : rows) out.labels.push_back(stack.labels[static_cast<size_t>(r)]);
  return out;
}

CandidateStack TakeCandidates(const CandidateStack& stack, const std::vector<int64_t>& indices) {
  CandidateStack out;
  out.candidates = static_cast<int64_t>(indices.size());
  out.rows = stack.rows;
  out.cols = stack.cols;
  out.labels = stack.labels;
  const size_t size = static_cast<size_t>(stack.rows * stack.cols);
  out.probs.reserve(indices.size() * size);
  for (int64_t c : indices) {
    if (c < 0 || c >= stack.candidates) throw std::invalid_argument("candidate index out of range");
    out.probs.insert(out.probs.end(), stack.Candidate(c), stack.Candidate(c) + size);
  }
  return out;
}

Matrix Blend(const CandidateStack& stack, const std::vector<double>& weights) {
  if (static_cast<int64_t>(weights.size()) != stack.candidates) {
    throw std::invalid_argument("Blend needs one weight per candidate");
  }
  double total = 0;
  for (double w : weights) {
    if (!(w >= 0)) throw std::invalid_argument("ensemble weights must be non-negative");
    total += w;
  }
  if (total <= 0) throw std::invalid_argument("ensemble weights sum to zero");
  const size_t size = static_cast<size_t>(stack.rows * stack.cols);
  std::vector<double> sum(size, 0.0);
  for (int64_t c = 0; c < stack.candidates; ++c) {
    const double w = weights[static_cast<size_t>(c)] / total;
    if (w == 0) continue;
    const float* p = stack.Candidate(c);
    for (size_t i = 0; i < size; ++i) sum[i] += w * p[i];
  }
  Matrix result;
  result.rows = stack.rows;
  result.cols = stack.cols;
  result.values.assign(sum.begin(), sum.end());
  return result;
}

namespace {

BlendScore ScoreMatrix(const Matrix& m, const std::vector<int>& labels) {
  const ConfusionMatrix confusion =
      Confusion(labels, ArgmaxRows(m.values, m.rows, m.cols), static_cast<int>(m.cols));
  return {confusion.MacroF1(), confusion.Accuracy(), LogLoss(m.values, m.cols, labels)};
}

}  // namespace

BlendScore ScoreBlend(const CandidateStack& stack, const std::vector<double>& weights) {
  return ScoreMatrix(Blend(stack, weights), stack.labels);
}

std::vector<BlendScore> ScoreEachCandidate(const CandidateStack& stack) {
  std::vector<BlendScore> scores;
  for (int64_t c = 0; c < stack.candidates; ++c) {
    std::vector<double> one(static_cast<size_t>(stack.candidates), 0.0);
    one[static_cast<size_t>(c)] = 1.0;
    scores.push_back(ScoreBlend(stack, one));
  }
  return scores;
}

}  // namespace ensweep
