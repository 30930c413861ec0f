// Caruana et al. (2004) ensemble selection: greedy forward selection with
// replacement.
//
// Start from the best `init_size` candidates (sorted initialisation, each
// once), then repeatedly add the candidate (possibly one already in) whose
// addition gives the best blend score on the validation rows, until the
// ensemble has `rounds` picks; finally cut back to the prefix with the best
// score (the smallest such prefix). A member picked m times out of n has weight
// m / n. Bagging runs `bags` selections, each on a seeded random subset of
// `bag_fraction` of the candidates, and averages their weights. Ties between
// equally good candidates are broken by a seeded Rng, so a result depends only
// on the inputs and `seed`.
//
// Pure computation on a CandidateStack, no I/O. The per-round evaluation of all
// candidates is split across `threads` threads (results do not depend on the
// thread count). Thread-compatible: concurrent calls on the same const stack
// are safe.
#pragma once

#include <cstdint>
#include <vector>

#include "ensemble/candidate_stack.h"

namespace ensweep {

enum class SelectionMetric { kMacroF1, kLogLoss };  // maximise macro F1 | minimise log-loss

struct GreedyOptions {
  int rounds = 25;            // picks in all, initial ones included (AutoGluon's default)
  int init_size = 1;          // sorted initialisation: the best n candidates, each once
  int bags = 1;               // 1: no bagging
  double bag_fraction = 0.5;  // share of the candidates each bag may pick from (at least one)
  SelectionMetric metric = SelectionMetric::kMacroF1;
  uint64_t seed = 0;
  int threads = 1;  // <= 0: one per hardware thread
};

struct GreedyResult {
  std::vector<double> weights;  // one per candidate, summing to one
  // Bag 0 (or the only selection): the picks in order (candidate indices) up to
  // the best iteration, and the blend score after each pick over all rounds
  // (trajectory.size() == rounds).
  std::vector<int64_t> picks;
  std::vector<double> trajectory;
  std::vector<int64_t> all_picks;  // bag 0: every pick over all rounds (before the cut back)
};

// Requires stack.candidates >= 1, rounds >= 1, init_size >= 1, bags >= 1,
// 0 < bag_fraction <= 1; throws std::invalid_argument otherwise.
GreedyResult GreedySelect(const CandidateStack& stack, const GreedyOptions& options);

// The score the selection optimises, of a blend of the given weights (for tests
// and reports).
double SelectionScore(const CandidateStack& stack, const std::vector<double>& weights,
                      SelectionMetric metric);

}  // namespace ensweep
