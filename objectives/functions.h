// Test functions and the learning-curve simulator behind the built-in objectives. Pure code.
#pragma once

#include <array>
#include <vector>

#include "core/rng.h"
#include "core/study.h"

namespace ensweep {

// Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; global minimum 0.397887 (three minimisers).
double Branin(double x1, double x2);
inline constexpr double kBraninMinimum = 0.39788735772973816;

// Hartmann 6-D on [0, 1]^6; global minimum -3.32237.
double Hartmann6(const std::array<double, 6>& x);
inline constexpr double kHartmann6Minimum = -3.3223680114155147;

// A simulated learning curve: validation accuracy per epoch, to maximise. Every parameter of the
// space is mapped to [0, 1] (log scale where the parameter is; a choice by its index) and compared
// with a target position derived from its name, so the final value depends on every parameter:
//   final = 0.95 - 2 * mean_i (u_i - c_i)^2
//   value(e) = final - (final - 0.1) * exp(-rate * e) + noise,  noise ~ N(0, noise_sd) per epoch
// with a learning rate of the curve (`rate`, 0.08 to 0.6) that depends on the parameters through
// other targets, so a fast start does not always mean a good end (what makes pruning non-trivial).
// Deterministic in (params, seed).
class CurveSimulator {
 public:
  CurveSimulator(const SearchSpace& space, double noise_sd) : space_(space), noise_sd_(noise_sd) {}
  // The noiseless final value and the curve's rate for `params`.
  double FinalValue(const Json& params) const;
  double Rate(const Json& params) const;
  // The curve's value at `epoch` without noise: what the configuration is really worth there.
  double CleanValue(const Json& params, int epoch) const;
  // Values for epochs 1..epochs (CleanValue plus the seeded noise).
  std::vector<double> Curve(const Json& params, int epochs, uint64_t seed) const;

 private:
  // Position of each present parameter in [0, 1], with its name's target positions.
  struct Position {
    double u, final_target, rate_target;
  };
  std::vector<Position> Positions(const Json& params) const;
  SearchSpace space_;
  double noise_sd_;
};

}  // namespace ensweep
