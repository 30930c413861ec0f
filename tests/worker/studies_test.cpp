// The shipped study files load, and every trial they can propose is a valid set of trial
// parameters for the worker (so no sweep fails on a typo in its own space).
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "core/rng.h"
#include "core/study.h"
#include "core/trial_params.h"
#include "search/space.h"

namespace ensweep {
namespace {

std::string StudyPath(const std::string& name) {
  return std::string(ENSWEEP_SOURCE_DIR) + "/studies/" + name;
}

void CheckParams(const Json& params, int epochs) {
  INFO(params.dump());
  REQUIRE_NOTHROW(ParseTrialParams(params, epochs));
}

}  // namespace

TEST_CASE("the seed replication study is a grid of valid trials", "[worker][studies]") {
  const StudySpec study = LoadStudyFile(StudyPath("seed_replication.yaml"));
  const std::vector<Json> grid = EnumerateGrid(study.space);
  CHECK(grid.size() == 65);
  // The enqueued trial is one of the grid's points (which then leaves the grid), so the grid's
  // size is the whole study.
  CHECK(study.budget.trials >= static_cast<int64_t>(grid.size()));
  for (const Json& entry : study.enqueue) {
    INFO(entry.dump());
    CHECK(std::any_of(grid.begin(), grid.end(), [&](const Json& point) {
      for (const auto& item : entry.items()) {
        if (!point.contains(item.key()) || point[item.key()] != item.value()) return false;
      }
      return true;
    }));
  }
  for (const Json& params : grid) CheckParams(params, study.budget.epochs);
  for (const Json& params : study.enqueue) CheckParams(params, study.budget.epochs);
}

TEST_CASE("every sample of the full mask study is a valid trial", "[worker][studies]") {
  const StudySpec study = LoadStudyFile(StudyPath("mask_full.yaml"));
  Rng rng(1);
  for (int i = 0; i < 500; ++i) CheckParams(SampleParams(study.space, rng), study.budget.epochs);
  for (const Json& params : study.enqueue) {
    CheckParams(SampleParams(study.space, rng, params), study.budget.epochs);
  }
}

}  // namespace ensweep
