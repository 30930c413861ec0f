#include "worker/trial_params.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ensweep {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

[[noreturn]] void Reject(const std::string& name, const nlohmann::json& value,
                         const std::string& expected) {
  throw std::invalid_argument("trial parameter '" + name + "' = " + value.dump() + ": expected " +
                              expected);
}

double Number(const std::string& name, const nlohmann::json& value) {
  if (!value.is_number()) Reject(name, value, "a number");
  const double number = value.get<double>();
  if (!std::isfinite(number)) Reject(name, value, "a finite number");
  return number;
}

// Integers may arrive as 32 or, from some YAML and JSON writers, as 32.0.
int Integer(const std::string& name, const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<int>();
  const double number = Number(name, value);
  if (number != std::floor(number) || std::abs(number) > 1e9) Reject(name, value, "an integer");
  return static_cast<int>(number);
}

std::string OneOf(const std::string& name, const nlohmann::json& value,
                  const std::vector<std::string>& allowed) {
  const std::string expected = "one of " + JoinNames(allowed);
  if (!value.is_string()) Reject(name, value, expected);
  const std::string text = value.get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    Reject(name, value, expected);
  }
  return text;
}

}  // namespace

const std::vector<std::string>& KnownBackbones() {
  static const std::vector<std::string> names = {"custom_cnn", "resnet18",  "resnet34",
                                                 "resnet50",   "resnet101", "resnet152"};
  return names;
}

const std::vector<std::string>& KnownTrialParams() {
  static const std::vector<std::string> names = {
      "backbone", "batch_size", "epochs", "flip_p", "lr", "momentum", "optimizer", "weight_decay"};
  return names;
}

TrialParams ParseTrialParams(const nlohmann::json& params, int default_epochs) {
  TrialParams out;
  out.epochs = default_epochs;
  if (params.is_null()) return out;
  if (!params.is_object()) {
    throw std::invalid_argument("trial parameters must be a JSON object, got " + params.dump());
  }
  for (const auto& [name, value] : params.items()) {
    if (name == "backbone") {
      out.backbone = OneOf(name, value, KnownBackbones());
    } else if (name == "optimizer") {
      out.optimizer = OneOf(name, value, {"sgd", "adam"});
    } else if (name == "lr") {
      out.lr = Number(name, value);
      if (out.lr <= 0) Reject(name, value, "a number > 0");
    } else if (name == "weight_decay") {
      out.weight_decay = Number(name, value);
      if (out.weight_decay < 0) Reject(name, value, "a number >= 0");
    } else if (name == "momentum") {
      out.momentum = Number(name, value);
      if (out.momentum < 0 || out.momentum >= 1) Reject(name, value, "a number in [0, 1)");
    } else if (name == "flip_p") {
      out.flip_p = Number(name, value);
      if (out.flip_p < 0 || out.flip_p > 1) Reject(name, value, "a probability in [0, 1]");
    } else if (name == "batch_size") {
      out.batch_size = Integer(name, value);
      if (out.batch_size < 1) Reject(name, value, "an integer >= 1");
    } else if (name == "epochs") {
      out.epochs = Integer(name, value);
      if (out.epochs < 1) Reject(name, value, "an integer >= 1");
    } else {
      throw std::invalid_argument("unknown trial parameter '" + name +
                                  "'; known parameters: " + JoinNames(KnownTrialParams()));
    }
  }
  if (out.epochs < 1) {
    throw std::invalid_argument("the trial's epoch budget must be >= 1, got " +
                                std::to_string(out.epochs));
  }
  return out;
}

}  // namespace ensweep
