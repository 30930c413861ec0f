// Samplers propose the parameters of the next trial (the "ask" of ask/tell).
//
// A sampler is a deterministic function of the study spec (including its seed), the trial number
// and the stored history, so a resumed study proposes exactly what an uninterrupted one would.
// Not thread-safe; the coordinator calls it from its one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // Parameters for trial `number`. `fixed` holds values that must be kept (an enqueued trial's);
  // `history` is every trial of the study so far, by number.
  virtual Json Propose(int64_t number, const Json& fixed,
                       const std::vector<TrialRecord>& history) = 0;
  // How many trials the sampler can propose in all (a grid's size), or nullopt if unbounded.
  virtual std::optional<int64_t> Capacity() const { return std::nullopt; }
};

// The sampler named by spec.sampler.type. Throws UserError for a space the sampler cannot handle
// (e.g. a continuous parameter under grid).
std::unique_ptr<Sampler> MakeSampler(const StudySpec& spec);

// The trials a study with a budget of `budget` trials runs at most: the budget, or the
// sampler's capacity (a grid's size) when that is smaller.
int64_t PlannedTrials(const Sampler& sampler, int64_t budget);
int64_t PlannedTrials(const StudySpec& spec, int64_t budget);

// The seed of trial `number`: what its trainer is seeded with, stored with the trial.
uint64_t TrialSeed(const StudySpec& spec, int64_t number);

}  // namespace ensweep
