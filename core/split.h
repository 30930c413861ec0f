// Train/validation splits that keep every photo of a person on one side.
//
// Persons are stratified on a key (for the competition, gender and age band, which are the same on
// all of a person's photos) and shuffled with a seeded Rng, so the split depends only on the data
// listing and the seed. `by: image` ignores groups; it exists to show the identity leak.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ensweep {

struct SplitIndices {
  std::vector<int64_t> train;  // indices into the listing, ascending
  std::vector<int64_t> val;    // ascending
};

// groups[i]: the group (person) of item i; strata[i]: the stratum of item i (must be equal within a
// group; the first item's is used). Each stratum sends round(val_fraction * persons) of its groups
// to validation, at least one when it has two or more. Requires 0 < val_fraction < 1.
SplitIndices GroupSplit(const std::vector<std::string>& groups, const std::vector<int>& strata,
                        double val_fraction, uint64_t seed);

// k folds over groups, stratified the same way; fold f's validation set is folds[f].val.
std::vector<SplitIndices> GroupKFold(const std::vector<std::string>& groups,
                                     const std::vector<int>& strata, int folds, uint64_t seed);

// Item-level split (leaky for grouped data).
SplitIndices ItemSplit(int64_t count, double val_fraction, uint64_t seed);

}  // namespace ensweep
