#include "ensemble/weight_optimizer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ensweep {
namespace {

constexpr double kClamp = 1e-15;  // as core/metrics.h LogLoss

// truth[c * rows + r]: candidate c's probability of row r's true class.
struct TruthProbs {
  int64_t candidates = 0, rows = 0;
  std::vector<double> values;
};

double Loss(const TruthProbs& t, const std::vector<double>& w, std::vector<double>* blend) {
  blend->assign(static_cast<size_t>(t.rows), 0.0);
  for (int64_t c = 0; c < t.candidates; ++c) {
    if (w[c] == 0) continue;
    const double* p = &t.values[c * t.rows];
    for (int64_t r = 0; r < t.rows; ++r) (*blend)[r] += w[c] * p[r];
  }
  double total = 0;
  for (double q : *blend) total -= std::log(std::clamp(q, kClamp, 1.0));
  return total / static_cast<double>(t.rows);
}

// Exponentiated gradient over the candidates with w > 0; returns the accepted
// steps.
int Descend(const TruthProbs& t, const WeightOptions& options, std::vector<double>* w,
            double* loss) {
  std::vector<double> blend, trial_blend, gradient(static_cast<size_t>(t.candidates));
  *loss = Loss(t, *w, &blend);
  double step = 1.0;
  int accepted = 0;
  for (int it = 0; it < options.iterations && step > 1e-12; ++it) {
    double low = 0;
    for (int64_t c = 0; c < t.candidates; ++c) {
      double g = 0;
      const double* p = &t.values[c * t.rows];
      for (int64_t r = 0; r < t.rows; ++r) g -= p[r] / std::max(blend[r], kClamp);
      gradient[c] = g / static_cast<double>(t.rows);
      if ((*w)[c] > 0) low = std::min(low, gradient[c]);
    }
    bool improved = false;
    while (step > 1e-12) {
      std::vector<double> next(*w);
      double total = 0;
      for (int64_t c = 0; c < t.candidates; ++c) {
        if (next[c] > 0) next[c] *= std::exp(-step * (gradient[c] - low));
        total += next[c];
      }
      for (double& v : next) v /= total;
      const double next_loss = Loss(t, next, &trial_blend);
      if (next_loss < *loss) {
        const bool small = *loss - next_loss < options.tolerance;
        *w = std::move(next);
        *loss = next_loss;
        blend.swap(trial_blend);
        step *= 1.5;
        ++accepted;
        improved = !small;
        break;
      }
      step *= 0.5;
    }
    if (!improved) break;
  }
  return accepted;
}

void Normalise(std::vector<double>* w) {
  const double total = std::accumulate(w->begin(), w->end(), 0.0);
  for (double& v : *w) v /= total;
}

}  // namespace

WeightResult OptimizeWeights(const CandidateStack& stack, const WeightOptions& options) {
  if (stack.candidates < 1 || stack.rows < 1) throw std::invalid_argument("no candidates");
  TruthProbs t{stack.candidates, stack.rows, {}};
  t.values.resize(static_cast<size_t>(t.candidates * t.rows));
  for (int64_t c = 0; c < t.candidates; ++c) {
    for (int64_t r = 0; r < t.rows; ++r) t.values[c * t.rows + r] = stack.at(c, r, stack.labels[r]);
  }
  WeightResult result;
  result.weights.assign(static_cast<size_t>(t.candidates), 1.0 / static_cast<double>(t.candidates));
  std::vector<double> blend;
  result.initial_log_loss = Loss(t, result.weights, &blend);
  double loss = 0;
  result.steps = Descend(t, options, &result.weights, &loss);
  if (options.max_members > 0 && options.max_members < t.candidates) {
    std::vector<size_t> order(result.weights.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return result.weights[a] > result.weights[b]; });
    for (size_t i = static_cast<size_t>(options.max_members); i < order.size(); ++i) {
      result.weights[order[i]] = 0;
    }
    Normalise(&result.weights);
    result.steps += Descend(t, options, &result.weights, &loss);
  }
  const size_t largest = static_cast<size_t>(
      std::max_element(result.weights.begin(), result.weights.end()) - result.weights.begin());
  for (size_t c = 0; c < result.weights.size(); ++c) {
    if (c != largest && result.weights[c] < options.min_weight) result.weights[c] = 0;
  }
  Normalise(&result.weights);
  result.final_log_loss = Loss(t, result.weights, &blend);
  return result;
}

}  // namespace ensweep
