#include "search/pruner.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace ensweep {
namespace {

bool Worse(double a, double b, bool maximize) { return maximize ? a < b : a > b; }

class NoPruner : public Pruner {
 public:
  bool ShouldPrune(int64_t, int, const Curves&) const override { return false; }
};

class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(const StudySpec& spec)
      : options_(spec.pruner),
        max_epochs_(spec.budget.epochs),
        maximize_(spec.objective.maximize) {}

  bool ShouldPrune(int64_t number, int epoch, const Curves& curves) const override {
    if (epoch < options_.min_epochs || epoch >= max_epochs_) return false;
    const auto self = curves.find(number);
    if (self == curves.end()) return false;
    int complete = 0;
    std::vector<double> at_epoch;
    for (const auto& [other, curve] : curves) {
      if (other == number || curve.state != TrialState::kComplete) continue;
      ++complete;
      const auto it = curve.values.find(epoch);
      if (it != curve.values.end() && std::isfinite(it->second)) at_epoch.push_back(it->second);
    }
    if (complete < options_.startup_trials || at_epoch.empty()) return false;
    std::optional<double> best;
    for (const auto& [e, value] : self->second.values) {
      if (e > epoch) break;
      if (!std::isfinite(value)) return true;
      if (!best || Worse(*best, value, maximize_)) best = value;
    }
    if (!best) return false;
    std::sort(at_epoch.begin(), at_epoch.end());
    const size_t n = at_epoch.size();
    const double median = n % 2 ? at_epoch[n / 2] : 0.5 * (at_epoch[n / 2 - 1] + at_epoch[n / 2]);
    return Worse(*best, median, maximize_);
  }

 private:
  PrunerSpec options_;
  int max_epochs_;
  bool maximize_;
};

// Successive halving over trials in one bracket (`bracket_of` picks the competitors).
class AshaPruner : public Pruner {
 public:
  AshaPruner(const StudySpec& spec, bool hyperband)
      : options_(spec.pruner),
        max_epochs_(spec.budget.epochs),
        maximize_(spec.objective.maximize),
        seed_(spec.sampler.seed),
        brackets_(hyperband ? static_cast<int>(AshaRungs(spec.pruner.min_epochs,
                                                         spec.pruner.reduction, spec.budget.epochs)
                                                   .size()) +
                                  1
                            : 1) {}

  bool ShouldPrune(int64_t number, int epoch, const Curves& curves) const override {
    const auto self = curves.find(number);
    if (self == curves.end() || epoch >= max_epochs_) return false;
    const int bracket = Bracket(number);
    const std::vector<int> rungs =
        AshaRungs(options_.min_epochs, options_.reduction, max_epochs_, bracket);
    if (std::find(rungs.begin(), rungs.end(), epoch) == rungs.end()) return false;
    const auto mine = self->second.values.find(epoch);
    if (mine == self->second.values.end()) return false;
    if (!std::isfinite(mine->second)) return true;
    std::vector<double> competing;
    for (const auto& [other, curve] : curves) {
      if (Bracket(other) != bracket) continue;
      const auto it = curve.values.find(epoch);
      if (it != curve.values.end() && std::isfinite(it->second)) competing.push_back(it->second);
    }
    // Best first; the trial continues if it is at least as good as the floor(n/eta)-th best
    // (the best, while fewer than eta trials have reached the rung).
    std::sort(competing.begin(), competing.end(),
              [this](double a, double b) { return Worse(b, a, maximize_); });
    const size_t keep =
        std::max<size_t>(1, competing.size() / static_cast<size_t>(options_.reduction));
    return Worse(mine->second, competing[keep - 1], maximize_);
  }

 private:
  int Bracket(int64_t number) const {
    return brackets_ == 1 ? 0 : HyperbandBracket(seed_, number, brackets_, options_.reduction);
  }

  PrunerSpec options_;
  int max_epochs_;
  bool maximize_;
  uint64_t seed_;
  int brackets_;
};

}  // namespace

std::vector<int> AshaRungs(int min_epochs, int reduction, int max_epochs, int first_rung) {
  // A factor below 2 or a first rung below 1 would never pass max_epochs.
  if (reduction < 2 || min_epochs < 1) {
    throw std::invalid_argument("AshaRungs: reduction " + std::to_string(reduction) +
                                " and min_epochs " + std::to_string(min_epochs) +
                                " must be >= 2 and >= 1");
  }
  std::vector<int> rungs;
  int64_t epoch = min_epochs;
  for (int k = 0; k < first_rung && epoch < max_epochs; ++k) epoch *= reduction;
  for (; epoch < max_epochs; epoch *= reduction) rungs.push_back(static_cast<int>(epoch));
  return rungs;
}

int HyperbandBracket(uint64_t seed, int64_t number, int brackets, int reduction) {
  if (brackets <= 1) return 0;
  const int s_max = brackets - 1;
  // Hyperband's allocation: a bracket starting later (fewer rungs) gets fewer trials.
  std::vector<double> weights;
  double total = 0;
  for (int s = 0; s <= s_max; ++s) {
    weights.push_back(std::pow(static_cast<double>(reduction), s_max - s) / (s_max - s + 1));
    total += weights.back();
  }
  Rng rng(
      DeriveSeed(DeriveSeed(seed, StableHash("hyperband_bracket")), static_cast<uint64_t>(number)));
  double u = rng.Uniform() * total;
  for (int s = 0; s <= s_max; ++s) {
    if (u < weights[static_cast<size_t>(s)]) return s;
    u -= weights[static_cast<size_t>(s)];
  }
  return s_max;
}

std::unique_ptr<Pruner> MakePruner(const StudySpec& spec) {
  const PrunerType type = spec.pruner.type;
  if (type == PrunerType::kNone) return std::make_unique<NoPruner>();
  if (type == PrunerType::kMedian) return std::make_unique<MedianPruner>(spec);
  if (type == PrunerType::kAsha || type == PrunerType::kHyperband) {
    // The study file's limits (core/study.cc), for a spec built in code.
    if (spec.pruner.reduction < 2 || spec.pruner.reduction > 100) {
      throw UserError("pruner.reduction: expected an integer from 2 to 100, got " +
                      std::to_string(spec.pruner.reduction));
    }
    if (spec.pruner.min_epochs < 1) {
      throw UserError("pruner.min_epochs: expected an integer >= 1, got " +
                      std::to_string(spec.pruner.min_epochs));
    }
  }
  if (type == PrunerType::kAsha) return std::make_unique<AshaPruner>(spec, false);
  if (type == PrunerType::kHyperband) return std::make_unique<AshaPruner>(spec, true);
  throw UserError("pruner.type: unknown pruner '" + std::string(OptionName(type)) + "'");
}

}  // namespace ensweep
