#include "search/space.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ensweep {

bool ConditionsHold(const ParamSpec& param, const Json& params) {
  for (const auto& condition : param.when) {
    auto it = params.find(condition.param);
    if (it == params.end()) return false;
    if (std::find(condition.values.begin(), condition.values.end(), *it) ==
        condition.values.end()) {
      return false;
    }
  }
  return true;
}

Json SampleValue(const ParamSpec& param, Rng& rng) {
  switch (param.kind) {
    case ParamKind::kConstant:
      return param.constant;
    case ParamKind::kChoice:
      return param.choices[rng.Below(param.choices.size())];
    case ParamKind::kUniform:
      return rng.Uniform(param.low, param.high);
    case ParamKind::kLogUniform:
      return std::exp(rng.Uniform(std::log(param.low), std::log(param.high)));
    case ParamKind::kInt: {
      const auto low = static_cast<int64_t>(param.low);
      const auto high = static_cast<int64_t>(param.high);
      const int64_t count = (high - low) / param.step + 1;
      if (!param.log)
        return low + param.step * static_cast<int64_t>(rng.Below(static_cast<uint64_t>(count)));
      // Log scale: draw in [log low, log(high + 1)), floor, then snap down to the step grid.
      const double drawn = std::exp(rng.Uniform(std::log(static_cast<double>(low)),
                                                std::log(static_cast<double>(high) + 1.0)));
      int64_t value = std::clamp(static_cast<int64_t>(std::floor(drawn)), low, high);
      value = low + (value - low) / param.step * param.step;
      return value;
    }
  }
  return nullptr;
}

Json SampleParams(const SearchSpace& space, Rng& rng, const Json& fixed) {
  Json params = Json::object();
  for (const auto& param : space.params) {
    if (!ConditionsHold(param, params)) continue;
    // Draw even when fixed so that the stream, and so the other parameters, do not depend on
    // which parameters were fixed.
    Json drawn = SampleValue(param, rng);
    auto it = fixed.find(param.name);
    params[param.name] = it != fixed.end() ? *it : std::move(drawn);
  }
  return params;
}

namespace {

std::vector<Json> DiscreteValues(const ParamSpec& param, size_t max_points) {
  switch (param.kind) {
    case ParamKind::kConstant:
      return {param.constant};
    case ParamKind::kChoice:
      return param.choices;
    case ParamKind::kInt: {
      const auto low = static_cast<int64_t>(param.low);
      const auto high = static_cast<int64_t>(param.high);
      if (static_cast<size_t>((high - low) / param.step + 1) > max_points) {
        throw UserError("space." + param.name + ": too many grid values for the grid sampler");
      }
      std::vector<Json> values;
      for (int64_t v = low; v <= high; v += param.step) values.push_back(v);
      return values;
    }
    default:
      throw UserError("space." + param.name + ": the grid sampler needs discrete parameters " +
                      "(constant, choice or int), but this one is " + ParamKindName(param.kind));
  }
}

void Expand(const SearchSpace& space, size_t index, Json& current, std::vector<Json>& out,
            size_t max_points) {
  if (index == space.params.size()) {
    out.push_back(current);
    if (out.size() > max_points) {
      throw UserError("the grid has more than " + std::to_string(max_points) +
                      " points; use the random sampler");
    }
    return;
  }
  const ParamSpec& param = space.params[index];
  if (!ConditionsHold(param, current)) {
    Expand(space, index + 1, current, out, max_points);
    return;
  }
  for (const Json& value : DiscreteValues(param, max_points)) {
    current[param.name] = value;
    Expand(space, index + 1, current, out, max_points);
  }
  current.erase(param.name);
}

}  // namespace

std::vector<Json> EnumerateGrid(const SearchSpace& space, size_t max_points) {
  for (const auto& param : space.params) DiscreteValues(param, max_points);  // reject early
  std::vector<Json> points;
  Json current = Json::object();
  Expand(space, 0, current, points, max_points);
  return points;
}

}  // namespace ensweep
