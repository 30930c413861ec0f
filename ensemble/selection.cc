#include "ensemble/selection.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <stdexcept>

#include "core/rng.h"

namespace ensweep {

std::vector<double> SelectEnsemble(const CandidateStack& stack, const SelectionOptions& options) {
  if (options.method == "greedy") return GreedySelect(stack, options.greedy).weights;
  if (options.method == "weights") return OptimizeWeights(stack, options.weights).weights;
  if (options.method != "uniform") {
    throw std::invalid_argument("unknown ensemble method '" + options.method + "'");
  }
  const std::vector<BlendScore> single = ScoreEachCandidate(stack);
  const bool loss = options.greedy.metric == SelectionMetric::kLogLoss;
  std::vector<size_t> order(single.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return loss ? single[a].log_loss < single[b].log_loss : single[a].macro_f1 > single[b].macro_f1;
  });
  const size_t k =
      std::clamp<size_t>(static_cast<size_t>(std::max(options.size, 1)), 1, order.size());
  std::vector<double> weights(single.size(), 0.0);
  for (size_t i = 0; i < k; ++i) weights[order[i]] = 1.0 / static_cast<double>(k);
  return weights;
}

PersonHalves SplitPersonsInHalves(const std::vector<std::string>& persons, uint64_t seed) {
  std::vector<std::string> unique(persons);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  if (unique.size() < 2) {
    throw std::invalid_argument("an honest estimate needs at least two validation persons");
  }
  Rng rng(seed);
  for (size_t i = unique.size() - 1; i > 0; --i) std::swap(unique[i], unique[rng.Below(i + 1)]);
  const size_t first = (unique.size() + 1) / 2;
  std::sort(unique.begin(), unique.begin() + first);
  PersonHalves halves;
  for (size_t r = 0; r < persons.size(); ++r) {
    const bool in_first = std::binary_search(unique.begin(), unique.begin() + first, persons[r]);
    halves.rows[in_first ? 0 : 1].push_back(static_cast<int64_t>(r));
  }
  return halves;
}

std::vector<int64_t> ChoosePoolOnRows(const CandidateStack& select_on, const HalfPool& pool,
                                      SelectionMetric metric) {
  if (!pool.families.empty() &&
      static_cast<int64_t>(pool.families.size()) != select_on.candidates) {
    throw std::invalid_argument("one family per candidate is needed");
  }
  std::vector<int64_t> order(static_cast<size_t>(select_on.candidates));
  std::iota(order.begin(), order.end(), 0);
  if (pool.size <= 0 && pool.families.empty()) return order;  // every candidate, as stacked
  const std::vector<BlendScore> single = ScoreEachCandidate(select_on);
  const bool loss = metric == SelectionMetric::kLogLoss;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return loss ? single[a].log_loss < single[b].log_loss : single[a].macro_f1 > single[b].macro_f1;
  });
  std::vector<int64_t> chosen;
  std::set<std::string> families;
  for (int64_t c : order) {
    if (pool.size > 0 && static_cast<int>(chosen.size()) >= pool.size) break;
    if (!pool.families.empty() && !families.insert(pool.families[c]).second) continue;
    chosen.push_back(c);
  }
  return chosen;
}

HonestEstimate EstimateHonestly(const CandidateStack& stack, const PersonHalves& halves,
                                const SelectionOptions& options, const HalfPool& pool) {
  HonestEstimate estimate;
  for (int h = 0; h < 2; ++h) {
    const CandidateStack select_on = TakeRows(stack, halves.rows[1 - h]);
    estimate.pool[h] = ChoosePoolOnRows(select_on, pool, options.greedy.metric);
    const std::vector<double> chosen =
        SelectEnsemble(TakeCandidates(select_on, estimate.pool[h]), options);
    estimate.weights[h].assign(static_cast<size_t>(stack.candidates), 0.0);
    for (size_t i = 0; i < chosen.size(); ++i) estimate.weights[h][estimate.pool[h][i]] = chosen[i];
    estimate.halves[h] = ScoreBlend(TakeRows(stack, halves.rows[h]), estimate.weights[h]);
  }
  estimate.mean.macro_f1 = (estimate.halves[0].macro_f1 + estimate.halves[1].macro_f1) / 2;
  estimate.mean.accuracy = (estimate.halves[0].accuracy + estimate.halves[1].accuracy) / 2;
  estimate.mean.log_loss = (estimate.halves[0].log_loss + estimate.halves[1].log_loss) / 2;
  return estimate;
}

}  // namespace ensweep
