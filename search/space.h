// Drawing parameter sets from a study's search space. Pure functions: no I/O, no global state.
//
// Parameters are visited in the space's order (a parameter after every parameter its `when`
// names), so a conditional parameter is drawn only when its condition holds in the values drawn
// so far, and is absent from the result otherwise.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/study.h"

namespace ensweep {

// True if every condition of `param` holds in `params` (a JSON object of values drawn so far).
bool ConditionsHold(const ParamSpec& param, const Json& params);

// One value of `param` drawn from its distribution.
Json SampleValue(const ParamSpec& param, Rng& rng);

// A full parameter set. Values in `fixed` (e.g. an enqueued trial's) are kept as given, the rest
// drawn; a fixed value of a parameter whose condition does not hold is dropped.
Json SampleParams(const SearchSpace& space, Rng& rng, const Json& fixed = Json::object());

// Every combination of a discrete space (constant, choice, int), honouring conditions, in a fixed
// order. Throws UserError naming the parameter if one is continuous, or if the grid has more than
// `max_points` points.
std::vector<Json> EnumerateGrid(const SearchSpace& space, size_t max_points = 1000000);

}  // namespace ensweep
