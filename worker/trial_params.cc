#include "worker/trial_params.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

namespace ensweep {
namespace {

using nlohmann::json;

std::string JoinNames(const std::vector<std::string> &names) {
  std::string joined;
  for (const std::string &name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

[[noreturn]] void Reject(const std::string &name, const json &value, const std::string &expected) {
  throw std::invalid_argument("trial parameter '" + name + "' = " + value.dump() + ": expected " +
                              expected);
}

double Number(const std::string &name, const json &value) {
  if (!value.is_number()) Reject(name, value, "a number");
  const double number = value.get<double>();
  if (!std::isfinite(number)) Reject(name, value, "a finite number");
  return number;
}

// Integers may arrive as 32 or, from some YAML and JSON writers, as 32.0.
int Integer(const std::string &name, const json &value) {
  if (value.is_number_integer()) return value.get<int>();
  const double number = Number(name, value);
  if (number != std::floor(number) || std::abs(number) > 1e9) Reject(name, value, "an integer");
  return static_cast<int>(number);
}

bool Boolean(const std::string &name, const json &value) {
  if (!value.is_boolean()) Reject(name, value, "true or false");
  return value.get<bool>();
}

std::string OneOf(const std::string &name, const json &value,
                  const std::vector<std::string> &allowed) {
  const std::string expected = "one of " + JoinNames(allowed);
  if (!value.is_string()) Reject(name, value, expected);
  const std::string text = value.get<std::string>();
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    Reject(name, value, expected);
  }
  return text;
}

// Number checked against a range; `closed_low`/`closed_high` say whether the ends are allowed.
struct Range {
  double low, high;
  bool closed_low, closed_high;
  std::string Describe() const {
    if (std::isinf(high)) return std::string("a number ") + (closed_low ? ">= " : "> ") + Fmt(low);
    return std::string("a number in ") + (closed_low ? "[" : "(") + Fmt(low) + ", " + Fmt(high) +
           (closed_high ? "]" : ")");
  }
  static std::string Fmt(double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
  }
};

double Ranged(const std::string &name, const json &value, const Range &range) {
  const double v = Number(name, value);
  const bool low_ok = range.closed_low ? v >= range.low : v > range.low;
  const bool high_ok = range.closed_high ? v <= range.high : v < range.high;
  if (!low_ok || !high_ok) Reject(name, value, range.Describe());
  return v;
}

int AtLeast(const std::string &name, const json &value, int minimum) {
  const int v = Integer(name, value);
  if (v < minimum) Reject(name, value, "an integer >= " + std::to_string(minimum));
  return v;
}

constexpr double kInf = INFINITY;
const Range kPositive{0, kInf, false, false};
const Range kNonNegative{0, kInf, true, false};
const Range kProbability{0, 1, true, true};
const Range kFraction{0, 1, true, false};  // [0, 1)
const Range kPortion{0, 1, false, true};   // (0, 1]

using Setter = std::function<void(TrialParams &, const std::string &, const json &)>;

const std::map<std::string, Setter> &Setters() {
  static const std::
      map<std::string, Setter>
          setters =
              {
                  {"age_label_smoothing",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.age_label_smoothing = Ranged(n, v, kFraction);
                   }},
                  {"age_loss_weight",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.age_loss_weight = Ranged(n, v, kNonNegative);
                   }},
                  {"backbone",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     // "torchscript:<path>" names any backbone exported to TorchScript.
                     if (v.is_string() && v.get<std::string>().rfind("torchscript:", 0) == 0 &&
                         v.get<std::string>().size() > 12) {
                       p.backbone = v.get<std::string>();
                     } else {
                       p.backbone = OneOf(n, v, KnownBackbones());
                     }
                   }},
                  {"batch_size",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.batch_size = AtLeast(n, v, 1);
                   }},
                  {"brightness",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.brightness = Ranged(n, v, kFraction);
                   }},
                  {"center_crop",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.center_crop = Ranged(n, v, kPortion);
                   }},
                  {"class_weighting",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.class_weighting = OneOf(n, v, {"none", "balanced"});
                   }},
                  {"contrast",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.contrast = Ranged(n, v, kFraction);
                   }},
                  {"crop_scale",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.crop_scale = Ranged(n, v, kPortion);
                   }},
                  {"epochs",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.epochs = AtLeast(n, v, 1);
                   }},
                  {"flip_p",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.flip_p = Ranged(n, v, kProbability);
                   }},
                  {"freeze_backbone",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.freeze_backbone = Boolean(n, v);
                   }},
                  {"gender_loss_weight",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.gender_loss_weight = Ranged(n, v, kNonNegative);
                   }},
                  {"grad_clip",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.grad_clip = Ranged(n, v, kNonNegative);
                   }},
                  {"head",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.head = OneOf(n, v, {"single", "multitask"});
                   }},
                  {"label_smoothing",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.label_smoothing = Ranged(n, v, kFraction);
                   }},
                  {"lr", [](TrialParams &p, const std::string &n,
                            const json &v) { p.lr = Ranged(n, v, kPositive); }},
                  {"mask_loss_weight",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.mask_loss_weight = Ranged(n, v, kNonNegative);
                   }},
                  {"momentum",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.momentum = Ranged(n, v, kFraction);
                   }},
                  {"nesterov",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.nesterov = Boolean(n, v);
                   }},
                  {"optimizer",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.optimizer = OneOf(n, v, {"sgd", "adam", "adamw"});
                   }},
                  {"pretrained",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.pretrained = Boolean(n, v);
                   }},
                  {"saturation",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.saturation = Ranged(n, v, kFraction);
                   }},
                  {"schedule",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.schedule = OneOf(n, v, {"constant", "step", "cosine"});
                   }},
                  {"shift",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.shift = Ranged(n, v, Range{0, 0.5, true, false});
                   }},
                  {"step_gamma",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.step_gamma = Ranged(n, v, kPortion);
                   }},
                  {"step_size",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.step_size = AtLeast(n, v, 1);
                   }},
                  {"swa", [](TrialParams &p, const std::string &n,
                             const json &v) { p.swa = Boolean(n, v); }},
                  {"swa_freq",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.swa_freq = AtLeast(n, v, 1);
                   }},
                  {"swa_lr",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.swa_lr = Ranged(n, v, kPositive);
                   }},
                  {"swa_start",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.swa_start = AtLeast(n, v, 1);
                   }},
                  {"precision",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.precision = OneOf(n, v, {"auto", "fp32", "bf16", "fp16"});
                   }},
                  {"memory_format",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.memory_format = OneOf(n, v, {"auto", "channels_last", "contiguous"});
                   }},
                  {"tta",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.tta = OneOf(n, v, {"none", "hflip"});
                   }},
                  {"warmup_epochs",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.warmup_epochs = AtLeast(n, v, 0);
                   }},
                  {"weight_decay",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     p.weight_decay = Ranged(n, v, kNonNegative);
                   }},
                  {"weights",
                   [](TrialParams &p, const std::string &n, const json &v) {
                     if (!v.is_string() || v.get<std::string>().empty()) {
                       Reject(
                           n, v,
                           "a weight file or a folder holding <backbone>.pt");
                     }
                     p.weights = v.get<std::string>();
                   }},
              };
  return setters;
}

// Checks between parameters, once every value is known.
void CheckCombination(const TrialParams &p) {
  const auto fail = [](const std::string &text) { throw std::invalid_argument(text); };
  if (p.epochs < 1) fail("the trial's epoch budget must be >= 1, got " + std::to_string(p.epochs));
  if (p.nesterov && p.optimizer == "sgd" && p.momentum <= 0) {
    fail("trial parameter 'nesterov' = true needs 'momentum' > 0");
  }
  if (p.warmup_epochs >= p.epochs && p.warmup_epochs > 0) {
    fail("trial parameter 'warmup_epochs' = " + std::to_string(p.warmup_epochs) +
         ": expected fewer than the trial's " + std::to_string(p.epochs) + " epochs");
  }
  if (p.swa && p.swa_start > p.epochs) {
    fail("trial parameter 'swa_start' = " + std::to_string(p.swa_start) +
         ": expected at most the trial's " + std::to_string(p.epochs) + " epochs");
  }
  if (p.pretrained && p.weights.empty()) {
    fail(
        "trial parameter 'pretrained' = true needs 'weights': a file written "
        "by "
        "tools/export_torchvision_weights.py, or a folder holding "
        "<backbone>.pt");
  }
  if (p.pretrained && p.backbone.rfind("torchscript:", 0) == 0) {
    fail(
        "trial parameter 'pretrained' = true: a torchscript backbone starts from the weights "
        "saved in its file; leave 'pretrained' out");
  }
  if (p.pretrained && p.backbone == "custom_cnn") {
    fail(
        "trial parameter 'pretrained' = true: backbone custom_cnn has no "
        "pretrained weights");
  }
  if (p.freeze_backbone && !p.pretrained && p.backbone.rfind("torchscript:", 0) != 0) {
    fail(
        "trial parameter 'freeze_backbone' = true needs 'pretrained' = true "
        "(a frozen random "
        "backbone learns nothing)");
  }
}

}  // namespace

const std::vector<std::string> &KnownBackbones() {
  static const std::vector<std::string> names = {"custom_cnn",     "resnet18",  "resnet34",
                                                 "resnet50",       "resnet101", "resnet152",
                                                 "efficientnet_b0"};
  return names;
}

const std::vector<std::string> &KnownTrialParams() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> keys;
    for (const auto &[name, setter] : Setters()) keys.push_back(name);
    return keys;
  }();
  return names;
}

TrialParams ParseTrialParams(const json &params, int default_epochs) {
  TrialParams out;
  out.epochs = default_epochs;
  if (params.is_null()) {
    CheckCombination(out);
    return out;
  }
  if (!params.is_object()) {
    throw std::invalid_argument("trial parameters must be a JSON object, got " + params.dump());
  }
  for (const auto &[name, value] : params.items()) {
    const auto it = Setters().find(name);
    if (it == Setters().end()) {
      throw std::invalid_argument("unknown trial parameter '" + name +
                                  "'; known parameters: " + JoinNames(KnownTrialParams()));
    }
    it->second(out, name, value);
  }
  CheckCombination(out);
  return out;
}

}  // namespace ensweep
