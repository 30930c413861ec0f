#include "search/sampler.h"

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/rng.h"
#include "search/space.h"
#include "search/tpe_sampler.h"

namespace ensweep {
namespace {

// Each trial's draw uses its own stream, seeded by (study seed, trial number): proposals do not
// depend on the order in which workers ask.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(const StudySpec& spec) : space_(spec.space), seed_(spec.sampler.seed) {}

  Json Propose(int64_t number, const Json& fixed, const std::vector<TrialRecord>&) override {
    Rng rng(
        DeriveSeed(DeriveSeed(seed_, StableHash("random_sampler")), static_cast<uint64_t>(number)));
    return SampleParams(space_, rng, fixed);
  }

 private:
  SearchSpace space_;
  uint64_t seed_;
};

// Visits every grid point once, in an order shuffled by the study seed. Enqueued trials take the
// first numbers and the grid points they are (found in the constructor) are left out, so no point
// runs twice; the remaining grid point k goes to trial number (enqueued + k).
class GridSampler : public Sampler {
 public:
  explicit GridSampler(const StudySpec& spec)
      : space_(spec.space),
        points_(EnumerateGrid(spec.space)),
        enqueued_(static_cast<int64_t>(spec.enqueue.size())) {
    Rng rng(DeriveSeed(spec.sampler.seed, StableHash("grid_sampler")));
    for (size_t i = points_.size(); i > 1; --i) std::swap(points_[i - 1], points_[rng.Below(i)]);
    if (enqueued_ == 0) return;
    // Enqueued trials are completed from the whole grid, before their own points leave it.
    whole_ = points_;
    for (const Json& entry : spec.enqueue) {
      const auto point = std::find(points_.begin(), points_.end(), Complete(entry));
      if (point != points_.end()) points_.erase(point);
    }
  }

  Json Propose(int64_t number, const Json& fixed, const std::vector<TrialRecord>&) override {
    if (number < enqueued_ && !fixed.empty()) return Complete(fixed);
    const int64_t index = number - enqueued_;
    if (index < 0 || index >= static_cast<int64_t>(points_.size())) {
      throw std::out_of_range("grid exhausted: trial " + std::to_string(number));
    }
    return points_[static_cast<size_t>(index)];
  }

  std::optional<int64_t> Capacity() const override {
    return enqueued_ + static_cast<int64_t>(points_.size());
  }

 private:
  // An enqueued trial's parameters: its fixed values, the rest from the first grid point that
  // agrees with the values chosen so far (the first value of the parameter when none does),
  // parameter by parameter in the space's order, so that a parameter is present exactly when
  // its `when` holds, as under the other samplers.
  Json Complete(const Json& fixed) const {
    Json params = Json::object();
    for (const ParamSpec& param : space_.params) {
      if (!ConditionsHold(param, params)) continue;
      const auto given = fixed.find(param.name);
      if (given != fixed.end()) {
        params[param.name] = *given;
        continue;
      }
      const auto agrees = [&](const Json& point) {
        if (!point.contains(param.name)) return false;
        for (const auto& item : params.items()) {
          const auto it = point.find(item.key());
          if (it == point.end() || *it != item.value()) return false;
        }
        return true;
      };
      const auto point = std::find_if(whole_.begin(), whole_.end(), agrees);
      params[param.name] = point != whole_.end() ? (*point)[param.name] : FirstValue(param);
    }
    return params;
  }

  static Json FirstValue(const ParamSpec& param) {
    if (param.kind == ParamKind::kChoice) return param.choices.front();
    if (param.kind == ParamKind::kInt) return static_cast<int64_t>(param.low);
    return param.constant;
  }

  SearchSpace space_;
  std::vector<Json> points_;  // shuffled, less the enqueued trials' points
  std::vector<Json> whole_;   // shuffled, every point (only with enqueued trials)
  int64_t enqueued_;
};

}  // namespace

std::unique_ptr<Sampler> MakeSampler(const StudySpec& spec) {
  if (spec.sampler.type == SamplerType::kRandom) return std::make_unique<RandomSampler>(spec);
  if (spec.sampler.type == SamplerType::kGrid) return std::make_unique<GridSampler>(spec);
  if (spec.sampler.type == SamplerType::kTpe) return MakeTpeSampler(spec);
  throw UserError("sampler.type: '" + std::string(OptionName(spec.sampler.type)) +
                  "' is not available in this version");
}

int64_t PlannedTrials(const Sampler& sampler, int64_t budget) {
  const auto capacity = sampler.Capacity();
  return capacity ? std::min(budget, *capacity) : budget;
}

int64_t PlannedTrials(const StudySpec& spec, int64_t budget) {
  return PlannedTrials(*MakeSampler(spec), budget);
}

uint64_t TrialSeed(const StudySpec& spec, int64_t number) {
  return DeriveSeed(DeriveSeed(spec.sampler.seed, StableHash("trial_seed")),
                    static_cast<uint64_t>(number));
}

}  // namespace ensweep
