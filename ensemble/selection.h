// Choosing an ensemble from a CandidateStack, by method, and estimating its
// score honestly.
//
// Methods: "uniform" (the best `size` candidates by the selection metric, equal
// weights), "greedy" (ensemble/greedy.h) and "weights"
// (ensemble/weight_optimizer.h). The honest estimate splits the validation
// persons into two seeded halves, selects on one half and scores on the other,
// both ways, and averages: the selection never sees the rows it is scored on,
// unlike the in-sample score. Pure computation, no I/O.
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

struct HonestEstimate {
  BlendScore halves[2];  // halves[h]: selected on the other half, scored on half h
  BlendScore mean;       // the average of the two
};

// Selects with `options` on each half and scores the result on the other half.
HonestEstimate EstimateHonestly(const CandidateStack& stack, const PersonHalves& halves,
                                const SelectionOptions& options);

}  // namespace ensweep
