// The learning rate of a trial at a point in training: warm-up, then constant, step or cosine, and
// SWA's constant rate from swa_start on. Pure arithmetic (no LibTorch) so tests can check it.
#pragma once

#include <algorithm>
#include <cmath>

#include "worker/trial_params.h"

namespace ensweep {

// `epoch` is 1-based; `fraction` in [0, 1) is how far through that epoch the batch is. The rate is
// applied per batch:
//   - warm-up (epoch <= warmup_epochs): lr * t / warmup_epochs, t = epochs done so far including
//     the fraction, at least 0.001 (so the first batch trains too);
//   - then constant: lr; step: lr * step_gamma ^ floor((epoch - 1 - warmup) / step_size); cosine:
//     lr * (1 + cos(pi * t / T)) / 2 over the T = epochs - warmup epochs after warm-up;
//   - with swa, from epoch swa_start on: swa_lr.
inline double LearningRate(const TrialParams& p, int epoch, double fraction) {
  if (p.swa && epoch >= p.swa_start) return p.swa_lr;
  const double t = (epoch - 1) + fraction;
  if (epoch <= p.warmup_epochs) return p.lr * std::max(t, 1e-3) / p.warmup_epochs;
  const double after = t - p.warmup_epochs;
  if (p.schedule == "step") {
    return p.lr * std::pow(p.step_gamma, std::floor((epoch - 1 - p.warmup_epochs) / p.step_size));
  }
  if (p.schedule == "cosine") {
    const double span = std::max(1, p.epochs - p.warmup_epochs);
    return p.lr * 0.5 * (1.0 + std::cos(M_PI * std::min(after / span, 1.0)));
  }
  return p.lr;
}

}  // namespace ensweep
