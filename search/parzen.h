// Parzen (kernel density) estimators used by the TPE sampler. Pure code: no I/O, no global state.
//
// A numeric estimator is a weighted mixture of Gaussians truncated to [low, high] (in the
// parameter's transformed space: log for log scales), one kernel per observation plus a prior
// kernel centred on the interval with the interval's width as bandwidth. A categorical estimator
// is a distribution over choice indices: each observation puts mass 1 on its choice and
// prior_weight / k on every choice, and the prior kernel is uniform. Bandwidths follow Optuna's
// TPE defaults (neighbour distances with the "magic clip" in univariate mode, Scott's rule in
// multivariate mode) so that results are comparable.
#pragma once

#include <cstddef>
#include <vector>

#include "core/rng.h"

namespace ensweep {

// Optuna's default_weights: 1 for the 25 newest observations, a linear ramp from 1/n up to 1 for
// older ones. `count` observations ordered oldest first.
std::vector<double> ObservationWeights(size_t count);

class NumericParzen {
 public:
  // `points` and `weights` (same size, weights > 0) are observations in the transformed space.
  // `bandwidth_override` > 0 gives every observation kernel that bandwidth (Scott's rule, computed
  // by the caller); otherwise bandwidths come from neighbour distances.
  NumericParzen(const std::vector<double>& points, const std::vector<double>& weights, double low,
                double high, double prior_weight = 1.0, double bandwidth_override = 0);

  size_t kernels() const { return mus_.size(); }
  // Index of a kernel drawn with probability proportional to its weight.
  size_t SampleKernel(Rng& rng) const;
  // A draw from kernel `k`, inside [low, high].
  double SampleFromKernel(size_t k, Rng& rng) const;
  double Sample(Rng& rng) const { return SampleFromKernel(SampleKernel(rng), rng); }
  // Log density of kernel `k` alone (truncated Gaussian), without its mixture weight.
  double KernelLogPdf(size_t k, double x) const;
  // Log density of the mixture.
  double LogPdf(double x) const;
  // Log of kernel k's normalised mixture weight.
  double LogWeight(size_t k) const { return log_weights_[k]; }

 private:
  double low_, high_;
  std::vector<double> mus_, sigmas_, log_weights_, cumulative_, log_norms_;
};

class CategoricalParzen {
 public:
  // `indices` are observed choice indices in [0, choices), with their weights.
  CategoricalParzen(const std::vector<size_t>& indices, const std::vector<double>& weights,
                    size_t choices, double prior_weight = 1.0);

  size_t Sample(Rng& rng) const;
  double LogPdf(size_t index) const { return log_probs_[index]; }

  // Per-kernel form, for multivariate TPE: kernel k is observation k (or the prior, last).
  size_t kernels() const { return kernel_choice_.size(); }
  double KernelLogPdf(size_t k, size_t index) const;
  size_t SampleFromKernel(size_t k, Rng& rng) const;

 private:
  size_t choices_;
  double prior_weight_;
  std::vector<double> log_probs_, cumulative_;
  std::vector<size_t> kernel_choice_;  // observed index per kernel; choices_ for the prior
};

// log(sum(exp(values))), stable for large magnitudes; -inf for an empty list.
double LogSumExp(const std::vector<double>& values);

}  // namespace ensweep
