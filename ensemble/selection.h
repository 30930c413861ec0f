// Choosing an ensemble from a CandidateStack, by method, and estimating its
// score honestly.
//
// Methods: "uniform" (the best `size` candidates by the selection metric, equal
// weights), "greedy" (ensemble/greedy.h) and "weights"
// (ensemble/weight_optimizer.h). The honest estimate splits the validation
// persons into two seeded halves, selects on one half and scores on the other,
// both ways, and averages: the selection never sees the rows it is scored on,
// unlike the in-sample score; with a HalfPool the candidate pool is re-chosen
// on the selection half too. Pure computation, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ensemble/candidate_stack.h"
#include "ensemble/greedy.h"
#include "ensemble/weight_optimizer.h"

namespace ensweep {

struct SelectionOptions {
  std::string method = "greedy";  // uniform | greedy | weights
  int size = 5;                   // uniform: members
  GreedyOptions greedy;           // greedy (its metric also ranks candidates for uniform)
  WeightOptions weights;          // weights
};

// One weight per candidate, summing to one. Throws std::invalid_argument for an
// unknown method.
std::vector<double> SelectEnsemble(const CandidateStack& stack, const SelectionOptions& options);

// Row indices of the two halves: persons (one entry per row) are deduplicated,
// sorted, shuffled with Rng(seed) and split, the first half getting the extra
// person when the count is odd. Every row of a person lands in the same half.
// Requires at least two distinct persons (std::invalid_argument).
struct PersonHalves {
  std::vector<int64_t> rows[2];
};
PersonHalves SplitPersonsInHalves(const std::vector<std::string>& persons, uint64_t seed);

// The candidate pool as the honest estimate chooses it on each selection half:
// the best `size` candidates by their own score on that half alone (the
// selection metric; ties: stack order), at most one per family when `families`
// (one entry per stack candidate) is not empty.
struct HalfPool {
  int size = 0;                       // <= 0: every candidate
  std::vector<std::string> families;  // empty: no family limit
};

// The stack indices `pool` keeps when ranked on `select_on`'s rows, best first
// (with no size and no family limit: every candidate in stack order).
std::vector<int64_t> ChoosePoolOnRows(const CandidateStack& select_on, const HalfPool& pool,
                                      SelectionMetric metric);

struct HonestEstimate {
  BlendScore halves[2];            // halves[h]: selected on the other half, scored on half h
  BlendScore mean;                 // the average of the two
  std::vector<double> weights[2];  // weights[h]: the blend scored on half h, one per candidate
  std::vector<int64_t> pool[2];    // pool[h]: the candidates it was chosen from
};

// On each half: chooses the pool (`pool`) and then the ensemble (`options`) on
// the other half's rows only, and scores the result on the half. Nothing chosen
// for half h sees half h's rows.
HonestEstimate EstimateHonestly(const CandidateStack& stack, const PersonHalves& halves,
                                const SelectionOptions& options, const HalfPool& pool = {});

}  // namespace ensweep
