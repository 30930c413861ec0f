// Ensemble weights on the probability simplex that minimise validation
// log-loss.
//
// The blend's log-loss depends on each candidate only through its probability
// of the true class, so the optimiser works on a candidates x rows matrix of
// those. It runs exponentiated gradient descent (multiplicative updates keep
// every weight positive and the sum one) with a step size that halves whenever
// a step would not reduce the loss, so the loss never increases. With
// `max_members` > 0 it keeps the largest `max_members` weights, drops the rest
// and optimises again over the kept ones (sparse top-n). Weights below
// `min_weight` are dropped at the end and the rest renormalised. Pure
// computation, no I/O; thread-compatible.
#pragma once

#include <vector>

#include "ensemble/candidate_stack.h"

namespace ensweep {

struct WeightOptions {
  int max_members = 0;       // 0: no limit
  int iterations = 300;      // gradient steps at most (per phase)
  double tolerance = 1e-9;   // stop when a step improves the loss by less
  double min_weight = 1e-4;  // smaller final weights are set to zero
};

struct WeightResult {
  std::vector<double> weights;  // one per candidate, >= 0, summing to one
  double initial_log_loss = 0;  // of the uniform blend over all candidates
  double final_log_loss = 0;    // of `weights`
  int steps = 0;                // accepted gradient steps
};

// Requires stack.candidates >= 1 and stack.rows >= 1; throws
// std::invalid_argument otherwise.
WeightResult OptimizeWeights(const CandidateStack& stack, const WeightOptions& options);

}  // namespace ensweep
