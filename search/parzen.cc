#include "search/parzen.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace ensweep {
namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Index i with cumulative[i-1] <= u * total < cumulative[i].
size_t PickFromCumulative(const std::vector<double>& cumulative, Rng& rng) {
  const double u = rng.Uniform() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return std::min(static_cast<size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

}  // namespace

double LogSumExp(const std::vector<double>& values) {
  double top = -std::numeric_limits<double>::infinity();
  for (double v : values) top = std::max(top, v);
  if (!std::isfinite(top)) return top;
  double sum = 0;
  for (double v : values) {
    if (v - top > -40.0) sum += std::exp(v - top);  // smaller terms are below double precision
  }
  return top + std::log(sum);
}

NumericParzen::NumericParzen(const std::vector<double>& points, const std::vector<double>& weights,
                             double low, double high, double prior_weight,
                             double bandwidth_override, bool weight_by_bandwidth,
                             double min_bandwidth_scale)
    : low_(low), high_(high) {
  const double width = std::max(high - low, 1e-12);
  const size_t n = points.size();
  mus_ = points;
  mus_.push_back(0.5 * (low + high));  // the prior kernel is last
  std::vector<double> all_weights = weights;
  all_weights.push_back(prior_weight);
  sigmas_.assign(n + 1, width);
  const double min_sigma =
      min_bandwidth_scale * width / std::min(100.0, 1.0 + static_cast<double>(n + 1));
  if (bandwidth_override > 0) {
    for (size_t i = 0; i < n; ++i) sigmas_[i] = std::clamp(bandwidth_override, min_sigma, width);
  } else if (n > 0) {
    // Neighbour distances over the sorted observations and the prior's centre, with the interval's
    // ends as outer neighbours (Optuna's univariate rule, consider_endpoints=false).
    // Sorted by (centre, index): the same order as a stable sort on the centre, but sorting the
    // pairs themselves is several times faster than sorting indices through the centres.
    std::vector<std::pair<double, size_t>> keyed(n + 1);
    for (size_t i = 0; i <= n; ++i) keyed[i] = {mus_[i], i};
    std::sort(keyed.begin(), keyed.end());
    std::vector<size_t> order(n + 1);
    for (size_t i = 0; i <= n; ++i) order[i] = keyed[i].second;
    for (size_t r = 0; r <= n; ++r) {
      const double mu = mus_[order[r]];
      const double left = r > 0 ? mu - mus_[order[r - 1]] : mu - low;
      const double right = r < n ? mus_[order[r + 1]] - mu : high - mu;
      double sigma = std::max(left, right);
      if (r == 0 && n >= 1) sigma = right;
      if (r == n && n >= 1) sigma = left;
      sigmas_[order[r]] = std::clamp(sigma, min_sigma, width);
    }
    sigmas_[n] = width;
  }
  const double total = std::accumulate(all_weights.begin(), all_weights.end(), 0.0);
  double running = 0;
  for (size_t i = 0; i <= n; ++i) {
    log_weights_.push_back(std::log(all_weights[i] / total));
    running += all_weights[i];
    cumulative_.push_back(running);
    const double mass =
        NormalCdf((high - mus_[i]) / sigmas_[i]) - NormalCdf((low - mus_[i]) / sigmas_[i]);
    // The truncated Gaussian's normaliser: mass inside [low, high] times sigma sqrt(2 pi); the
    // sigma factor is left out when scoring with bandwidth-weighted kernels.
    const double log_scale = weight_by_bandwidth ? 0.0 : std::log(sigmas_[i]);
    log_norms_.push_back(std::log(std::max(mass, 1e-300)) + log_scale + kLogSqrt2Pi);
  }
}

size_t NumericParzen::SampleKernel(Rng& rng) const { return PickFromCumulative(cumulative_, rng); }

double NumericParzen::SampleFromKernel(size_t k, Rng& rng) const {
  // Rejection: every kernel's centre lies in [low, high] and its bandwidth is at most the width,
  // so at least a third of the draws land inside; the cap only guards degenerate inputs.
  for (int attempt = 0; attempt < 256; ++attempt) {
    const double x = mus_[k] + sigmas_[k] * rng.Normal();
    if (x >= low_ && x <= high_) return x;
  }
  return std::clamp(mus_[k], low_, high_);
}

double NumericParzen::KernelLogPdf(size_t k, double x) const {
  const double z = (x - mus_[k]) / sigmas_[k];
  return -0.5 * z * z - log_norms_[k];
}

double NumericParzen::LogPdf(double x) const {
  // Inline log-sum-exp: this is the sampler's hot loop (candidates x observations). Terms more
  // than 40 nats below the largest add less than 1e-17 relative each and are skipped, which
  // avoids most exp() calls once there are many narrow kernels.
  const size_t n = mus_.size();
  std::vector<double> terms(n);
  double top = -std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < n; ++k) {
    terms[k] = log_weights_[k] + KernelLogPdf(k, x);
    top = std::max(top, terms[k]);
  }
  double sum = 0;
  for (size_t k = 0; k < n; ++k) {
    const double d = terms[k] - top;
    if (d > -40.0) sum += std::exp(d);
  }
  return top + std::log(sum);
}

CategoricalParzen::CategoricalParzen(const std::vector<size_t>& indices,
                                     const std::vector<double>& weights, size_t choices,
                                     double prior_weight)
    : choices_(choices), prior_weight_(prior_weight) {
  // Mixture of per-observation kernels (mass 1 on the observed choice plus prior_weight/k on every
  // choice, normalised) and a uniform prior kernel of weight prior_weight.
  std::vector<double> mass(choices, 0.0);
  const double spread = prior_weight / static_cast<double>(choices);
  double total_weight = prior_weight;
  for (size_t i = 0; i < indices.size(); ++i) {
    for (size_t c = 0; c < choices; ++c) {
      mass[c] += weights[i] * ((c == indices[i] ? 1.0 : 0.0) + spread) / (1.0 + prior_weight);
    }
    total_weight += weights[i];
    kernel_choice_.push_back(indices[i]);
  }
  kernel_choice_.push_back(choices);
  for (size_t c = 0; c < choices; ++c) mass[c] += prior_weight / static_cast<double>(choices);
  double running = 0;
  for (size_t c = 0; c < choices; ++c) {
    log_probs_.push_back(std::log(mass[c] / total_weight));
    running += mass[c];
    cumulative_.push_back(running);
  }
}

size_t CategoricalParzen::Sample(Rng& rng) const { return PickFromCumulative(cumulative_, rng); }

double CategoricalParzen::KernelLogPdf(size_t k, size_t index) const {
  const double k_count = static_cast<double>(choices_);
  if (kernel_choice_[k] == choices_) return -std::log(k_count);
  const double spread = prior_weight_ / k_count;
  return std::log(((index == kernel_choice_[k] ? 1.0 : 0.0) + spread) / (1.0 + prior_weight_));
}

size_t CategoricalParzen::SampleFromKernel(size_t k, Rng& rng) const {
  if (kernel_choice_[k] == choices_) return rng.Below(choices_);
  // With probability 1/(1+w) the observed choice, otherwise uniform.
  if (rng.Uniform() * (1.0 + prior_weight_) < 1.0) return kernel_choice_[k];
  return rng.Below(choices_);
}

}  // namespace ensweep
