// Values of every JSON type, for tests that replace a message's fields with each wrong type.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace ensweep::test {

// One value of every JSON type, each with the name Kind gives its type.
inline const std::vector<std::pair<std::string, nlohmann::json>>& JsonSamples() {
  static const std::vector<std::pair<std::string, nlohmann::json>> samples = {
      {"null", nlohmann::json(nullptr)},    {"boolean", nlohmann::json(true)},
      {"integer", nlohmann::json(7)},       {"fraction", nlohmann::json(2.5)},
      {"string", nlohmann::json("text")},   {"array", nlohmann::json::array({1})},
      {"object", nlohmann::json{{"k", 1}}},
  };
  return samples;
}

// The name of `value`'s JSON type, as JsonSamples names it.
inline std::string Kind(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "fraction";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return "object";
}

}  // namespace ensweep::test
