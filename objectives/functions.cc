#include "objectives/functions.h"

#include <algorithm>
#include <cmath>

namespace ensweep {

double Branin(double x1, double x2) {
  constexpr double kPi = 3.14159265358979323846;
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  const double u = x2 - b * x1 * x1 + c * x1 - 6;
  return u * u + 10 * (1 - t) * std::cos(x1) + 10;
}

double Hartmann6(const std::array<double, 6>& x) {
  static const double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                  {0.05, 10, 17, 0.1, 8, 14},
                                  {3, 3.5, 1.7, 10, 17, 8},
                                  {17, 8, 0.05, 10, 0.1, 14}};
  static const double kP[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                  {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                  {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                  {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) inner += kA[i][j] * (x[j] - kP[i][j]) * (x[j] - kP[i][j]);
    sum += kAlpha[i] * std::exp(-inner);
  }
  return -sum;
}

std::vector<CurveSimulator::Position> CurveSimulator::Positions(const Json& params) const {
  std::vector<Position> positions;
  for (const auto& p : space_.params) {
    const auto it = params.find(p.name);
    if (it == params.end() || p.kind == ParamKind::kConstant) continue;
    double u = 0.5;
    if (p.kind == ParamKind::kChoice) {
      const auto c = std::find(p.choices.begin(), p.choices.end(), *it);
      const auto index = static_cast<double>(c - p.choices.begin());
      u = p.choices.size() > 1 ? index / static_cast<double>(p.choices.size() - 1) : 0.5;
    } else if (it->is_number() && p.high > p.low) {
      const double v = it->get<double>();
      const bool log_scale =
          p.kind == ParamKind::kLogUniform || (p.kind == ParamKind::kInt && p.log);
      u = log_scale ? std::log(v / p.low) / std::log(p.high / p.low)
                    : (v - p.low) / (p.high - p.low);
    }
    const uint64_t h = StableHash(p.name);
    positions.push_back({std::clamp(u, 0.0, 1.0), 0.2 + 0.6 * static_cast<double>(h % 1000) / 999.0,
                         0.2 + 0.6 * static_cast<double>((h >> 20) % 1000) / 999.0});
  }
  return positions;
}

double CurveSimulator::FinalValue(const Json& params) const {
  const auto positions = Positions(params);
  if (positions.empty()) return 0.95;
  double loss = 0;
  for (const auto& p : positions) loss += (p.u - p.final_target) * (p.u - p.final_target);
  return 0.95 - 2.0 * loss / static_cast<double>(positions.size());
}

double CurveSimulator::Rate(const Json& params) const {
  const auto positions = Positions(params);
  if (positions.empty()) return 0.3;
  double closeness = 0;
  for (const auto& p : positions) closeness += 1.0 - std::abs(p.u - p.rate_target);
  return 0.08 + 0.52 * std::pow(closeness / static_cast<double>(positions.size()), 2.0);
}

namespace {
double CleanCurve(double final_value, double rate, int epoch) {
  return final_value - (final_value - 0.1) * std::exp(-rate * epoch);
}
}  // namespace

double CurveSimulator::CleanValue(const Json& params, int epoch) const {
  return CleanCurve(FinalValue(params), Rate(params), epoch);
}

std::vector<double> CurveSimulator::Curve(const Json& params, int epochs, uint64_t seed) const {
  const double final_value = FinalValue(params), rate = Rate(params);
  Rng rng(DeriveSeed(seed, StableHash("curve_noise")));
  std::vector<double> values;
  for (int e = 1; e <= epochs; ++e) {
    values.push_back(CleanCurve(final_value, rate, e) + noise_sd_ * rng.Normal());
  }
  return values;
}

}  // namespace ensweep
