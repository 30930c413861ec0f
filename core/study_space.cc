#include "core/study_space.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>

namespace ensweep {

const char* ParamKindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::kConstant:
      return "constant";
    case ParamKind::kChoice:
      return "choice";
    case ParamKind::kUniform:
      return "uniform";
    case ParamKind::kLogUniform:
      return "log_uniform";
    case ParamKind::kInt:
      return "int";
  }
  return "?";
}

const ParamSpec* SearchSpace::Find(const std::string& name) const {
  for (const auto& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

constexpr size_t kMaxParams = 1000;
constexpr size_t kMaxValues = 10000;  // in a choice list or a condition's list

std::vector<Json> ParseChoices(const Checker& c, const Json& body, const std::string& path) {
  if (!body.is_array() || body.empty() || body.size() > kMaxValues) {
    c.Fail(path,
           "expected a non-empty list of values (at most " + std::to_string(kMaxValues) + ")");
  }
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i].is_object() || body[i].is_array() || body[i].is_null()) {
      c.Fail(path + "[" + std::to_string(i) + "]",
             "expected a plain value (string, number or bool)");
    }
  }
  return body.get<std::vector<Json>>();
}

// `int: [low, high]` with its `step` and `log` from `spec` (at `path`).
void ParseIntRange(const Checker& c, const Json& spec, const std::string& path, ParamSpec& param) {
  const std::string kind_path = JoinPath(path, "int");
  const Json& body = spec.at("int");
  param.kind = ParamKind::kInt;
  param.low =
      static_cast<double>(c.Integer(body[0], kind_path + "[0]", -kMaxIntParam, kMaxIntParam));
  param.high =
      static_cast<double>(c.Integer(body[1], kind_path + "[1]", -kMaxIntParam, kMaxIntParam));
  if (spec.contains("step")) {
    param.step = c.Integer(spec["step"], JoinPath(path, "step"), 1, kMaxIntParam);
  }
  if (spec.contains("log")) param.log = c.Bool(spec["log"], JoinPath(path, "log"));
  if (param.log && param.low < 1) c.Fail(kind_path, "a log-scale int needs low >= 1");
}

// `uniform: [low, high]` or `log_uniform: [low, high]`.
void ParseContinuousRange(const Checker& c, const Json& body, const std::string& kind,
                          const std::string& kind_path, ParamSpec& param) {
  param.kind = kind == "uniform" ? ParamKind::kUniform : ParamKind::kLogUniform;
  param.low = c.Number(body[0], kind_path + "[0]");
  param.high = c.Number(body[1], kind_path + "[1]");
  if (param.kind == ParamKind::kLogUniform && param.low <= 0) {
    c.Fail(kind_path, "log_uniform needs low > 0, got " + Describe(body[0]));
  }
  if (!std::isfinite(param.high - param.low)) {
    c.Fail(kind_path, "high - low is out of range of a double, got [" + Describe(body[0]) + ", " +
                          Describe(body[1]) + "]");
  }
}

std::vector<Condition> ParseWhen(const Checker& c, const Json& when, const std::string& path) {
  if (!when.is_object() || when.empty()) {
    c.Fail(path, "expected a mapping of parameter: value (or [values])");
  }
  std::vector<Condition> conditions;
  for (const auto& item : when.items()) {
    Condition condition;
    condition.param = item.key();
    if (item.value().is_array()) {
      if (item.value().empty() || item.value().size() > kMaxValues) {
        c.Fail(JoinPath(path, item.key()),
               "expected 1 to " + std::to_string(kMaxValues) + " values");
      }
      for (const auto& v : item.value()) condition.values.push_back(v);
    } else {
      condition.values.push_back(item.value());
    }
    conditions.push_back(condition);
  }
  return conditions;
}

// The one distribution key of a parameter's mapping.
std::string DistributionKind(const Checker& c, const Json& spec, const std::string& path) {
  std::vector<std::string> kinds;
  for (const char* k : {"choice", "uniform", "log_uniform", "int", "value"}) {
    if (spec.contains(k)) kinds.push_back(k);
  }
  if (kinds.size() != 1) {
    c.Fail(path, "expected exactly one of choice, uniform, log_uniform, int or value");
  }
  if ((spec.contains("step") || spec.contains("log")) && kinds.front() != "int") {
    c.Fail(JoinPath(path, spec.contains("step") ? "step" : "log"), "only allowed with int");
  }
  return kinds.front();
}

ParamSpec ParseParam(const Checker& c, const std::string& name, const Json& spec,
                     const std::string& path) {
  ParamSpec param;
  param.name = name;
  if (!spec.is_object()) {
    if (spec.is_null()) c.Fail(path, "expected a value or a distribution such as {choice: [...]}");
    param.kind = ParamKind::kConstant;
    param.constant = spec;
    return param;
  }
  c.OnlyKeys(spec, path,
             {"choice", "uniform", "log_uniform", "int", "value", "step", "log", "when"});
  const std::string kind = DistributionKind(c, spec, path);
  const std::string kind_path = JoinPath(path, kind);
  const Json& body = spec.at(kind);
  if (kind == "value") {
    param.kind = ParamKind::kConstant;
    param.constant = body;
  } else if (kind == "choice") {
    param.kind = ParamKind::kChoice;
    param.choices = ParseChoices(c, body, kind_path);
  } else {
    if (!body.is_array() || body.size() != 2) c.Fail(kind_path, "expected [low, high]");
    if (kind == "int") {
      ParseIntRange(c, spec, path, param);
    } else {
      ParseContinuousRange(c, body, kind, kind_path, param);
    }
    if (param.low > param.high) {
      c.Fail(kind_path,
             "low must be <= high, got [" + Describe(body[0]) + ", " + Describe(body[1]) + "]");
    }
  }
  if (spec.contains("when")) param.when = ParseWhen(c, spec["when"], JoinPath(path, "when"));
  return param;
}

// Orders parameters so that each follows every parameter its `when` names; rejects unknown names,
// self-references, impossible values and cycles.
std::vector<ParamSpec> OrderByConditions(const Checker& c, std::vector<ParamSpec> params) {
  std::map<std::string, const ParamSpec*> by_name;
  for (const auto& p : params) by_name[p.name] = &p;
  for (const auto& p : params) {
    for (const auto& condition : p.when) {
      const std::string path = "space." + p.name + ".when." + condition.param;
      auto it = by_name.find(condition.param);
      if (it == by_name.end()) c.Fail(path, "names an unknown parameter '" + condition.param + "'");
      if (condition.param == p.name) c.Fail(path, "a parameter cannot depend on itself");
      const ParamKind kind = it->second->kind;
      if (Continuous(kind)) {
        // A continuous draw almost never equals a listed value: the parameter would never exist.
        c.Fail(path, "'" + condition.param + "' is " + ParamKindName(kind) +
                         "; a condition needs a choice, int or constant parameter");
      }
      for (const auto& v : condition.values) {
        if (!ValueInDomain(*it->second, v)) {
          c.Fail(path, Describe(v) + " is not a possible value of '" + condition.param + "'");
        }
      }
    }
  }
  std::vector<ParamSpec> ordered;
  std::set<std::string> placed;
  while (ordered.size() < params.size()) {
    bool progress = false;
    for (const auto& p : params) {
      if (placed.count(p.name)) continue;
      const bool ready = std::all_of(p.when.begin(), p.when.end(),
                                     [&](const Condition& k) { return placed.count(k.param) > 0; });
      if (ready) {
        ordered.push_back(p);
        placed.insert(p.name);
        progress = true;
      }
    }
    if (!progress) {
      for (const auto& p : params) {
        if (!placed.count(p.name)) c.Fail("space." + p.name + ".when", "conditions form a cycle");
      }
    }
  }
  return ordered;
}

}  // namespace

bool ValueInDomain(const ParamSpec& p, const Json& v) {
  switch (p.kind) {
    case ParamKind::kConstant:
      return v == p.constant;
    case ParamKind::kChoice:
      return std::find(p.choices.begin(), p.choices.end(), v) != p.choices.end();
    case ParamKind::kUniform:
    case ParamKind::kLogUniform:
      return v.is_number() && v.get<double>() >= p.low && v.get<double>() <= p.high;
    case ParamKind::kInt:
      return v.is_number_integer() && v.get<double>() >= p.low && v.get<double>() <= p.high;
  }
  return false;
}

std::vector<ParamSpec> ParseSpace(const Checker& c, const Json& space) {
  if (space.size() > kMaxParams) {
    c.Fail("space", std::to_string(space.size()) + " parameters; a space has at most " +
                        std::to_string(kMaxParams));
  }
  std::vector<ParamSpec> params;
  for (const auto& item : space.items()) {
    params.push_back(ParseParam(c, item.key(), item.value(), "space." + item.key()));
  }
  return OrderByConditions(c, std::move(params));
}

Json ParamToJson(const ParamSpec& p) {
  Json j;
  switch (p.kind) {
    case ParamKind::kConstant:
      j["value"] = p.constant;
      break;
    case ParamKind::kChoice:
      j["choice"] = p.choices;
      break;
    case ParamKind::kUniform:
      j["uniform"] = {p.low, p.high};
      break;
    case ParamKind::kLogUniform:
      j["log_uniform"] = {p.low, p.high};
      break;
    case ParamKind::kInt:
      j["int"] = {static_cast<int64_t>(p.low), static_cast<int64_t>(p.high)};
      j["step"] = p.step;
      j["log"] = p.log;
      break;
  }
  if (!p.when.empty()) {
    for (const auto& condition : p.when) j["when"][condition.param] = condition.values;
  }
  return j;
}

}  // namespace ensweep
