#include "core/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "core/rng.h"

namespace ensweep {
namespace {

// Groups per stratum, each list sorted by name so that the result does not depend on the order
// of the listing beyond its content.
std::map<int, std::vector<std::string>> GroupsByStratum(const std::vector<std::string>& groups,
                                                        const std::vector<int>& strata) {
  if (groups.size() != strata.size())
    throw std::invalid_argument("groups and strata differ in size");
  std::map<std::string, int> stratum_of;
  for (size_t i = 0; i < groups.size(); ++i) stratum_of.emplace(groups[i], strata[i]);
  std::map<int, std::vector<std::string>> result;
  for (const auto& [group, stratum] : stratum_of) result[stratum].push_back(group);
  return result;
}

template <typename T>
void Shuffle(std::vector<T>& items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.Below(i)]);
}

SplitIndices Assign(const std::vector<std::string>& groups, const std::set<std::string>& val) {
  SplitIndices split;
  for (size_t i = 0; i < groups.size(); ++i) {
    (val.count(groups[i]) ? split.val : split.train).push_back(static_cast<int64_t>(i));
  }
  return split;
}

}  // namespace

SplitIndices GroupSplit(const std::vector<std::string>& groups, const std::vector<int>& strata,
                        double val_fraction, uint64_t seed) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    throw std::invalid_argument("val_fraction must be in (0, 1)");
  }
  Rng rng(DeriveSeed(seed, StableHash("group_split")));
  std::set<std::string> val;
  for (auto& [stratum, members] : GroupsByStratum(groups, strata)) {
    Shuffle(members, rng);
    const size_t n = members.size();
    size_t take = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(n)));
    if (n >= 2) take = std::clamp<size_t>(take, 1, n - 1);
    val.insert(members.begin(), members.begin() + static_cast<std::ptrdiff_t>(take));
  }
  return Assign(groups, val);
}

std::vector<SplitIndices> GroupKFold(const std::vector<std::string>& groups,
                                     const std::vector<int>& strata, int folds, uint64_t seed) {
  if (folds < 2) throw std::invalid_argument("k-fold needs at least 2 folds");
  Rng rng(DeriveSeed(seed, StableHash("group_kfold")));
  std::vector<std::set<std::string>> fold_groups(static_cast<size_t>(folds));
  size_t offset = 0;  // carried across strata so that fold sizes stay balanced
  for (auto& [stratum, members] : GroupsByStratum(groups, strata)) {
    Shuffle(members, rng);
    for (size_t i = 0; i < members.size(); ++i) {
      fold_groups[(offset + i) % static_cast<size_t>(folds)].insert(members[i]);
    }
    offset += members.size();
  }
  std::vector<SplitIndices> result;
  for (const auto& val : fold_groups) result.push_back(Assign(groups, val));
  return result;
}

SplitIndices ItemSplit(int64_t count, double val_fraction, uint64_t seed) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    throw std::invalid_argument("val_fraction must be in (0, 1)");
  }
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
  Rng rng(DeriveSeed(seed, StableHash("item_split")));
  Shuffle(order, rng);
  const auto take = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(count)));
  SplitIndices split;
  split.val.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take));
  split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(take), order.end());
  std::sort(split.val.begin(), split.val.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace ensweep
