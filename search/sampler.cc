#include "search/sampler.h"

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
// first numbers; grid point k goes to trial number (enqueued + k).
class GridSampler : public Sampler {
 public:
  explicit GridSampler(const StudySpec& spec)
      : points_(EnumerateGrid(spec.space)), enqueued_(static_cast<int64_t>(spec.enqueue.size())) {
    Rng rng(DeriveSeed(spec.sampler.seed, StableHash("grid_sampler")));
    for (size_t i = points_.size(); i > 1; --i) std::swap(points_[i - 1], points_[rng.Below(i)]);
  }

  Json Propose(int64_t number, const Json& fixed, const std::vector<TrialRecord>&) override {
    if (number < enqueued_ && !fixed.empty()) {
      // An enqueued trial: its fixed values plus the first grid point's values for the rest.
      Json params = points_.empty() ? Json::object() : points_.front();
      for (const auto& item : fixed.items()) params[item.key()] = item.value();
      return params;
    }
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
  std::vector<Json> points_;
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

uint64_t TrialSeed(const StudySpec& spec, int64_t number) {
  return DeriveSeed(DeriveSeed(spec.sampler.seed, StableHash("trial_seed")),
                    static_cast<uint64_t>(number));
}

}  // namespace ensweep
