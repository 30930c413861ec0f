#include "core/trial_params.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

namespace ensweep {
namespace {

using nlohmann::json;
using P = TrialParams;

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// Shortest decimal form: 0.5, 1e-05, 100.
std::string FormatNumber(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// Row builders, so that the table below reads as one line per parameter.
TrialParamInfo Flag(const char* name, bool P::*field, const char* meaning) {
  TrialParamInfo info;
  info.name = name;
  info.type = TrialParamType::kBool;
  info.field = field;
  info.meaning = meaning;
  return info;
}

TrialParamInfo Whole(const char* name, int P::*field, int minimum, const char* meaning) {
  TrialParamInfo info;
  info.name = name;
  info.type = TrialParamType::kInt;
  info.low = minimum;
  info.field = field;
  info.meaning = meaning;
  return info;
}

// A whole number in minimum..maximum.
TrialParamInfo WholeUpTo(const char* name, int P::*field, int minimum, int maximum,
                         const char* meaning) {
  TrialParamInfo info = Whole(name, field, minimum, meaning);
  info.high = maximum;
  return info;
}

// A number in the range from `low` to `high` (INFINITY: no upper end); `ends` is "[]", "[)",
// "(]" or "()", saying which ends are allowed.
TrialParamInfo Number(const char* name, double P::*field, double low, double high, const char* ends,
                      const char* meaning) {
  TrialParamInfo info;
  info.name = name;
  info.type = TrialParamType::kNumber;
  info.low = low;
  info.high = high;
  info.closed_low = ends[0] == '[';
  info.closed_high = ends[1] == ']';
  info.field = field;
  info.meaning = meaning;
  return info;
}

TrialParamInfo OneOf(const char* name, std::string P::*field, std::vector<std::string> choices,
                     const char* meaning) {
  TrialParamInfo info;
  info.name = name;
  info.type = TrialParamType::kChoice;
  info.choices = std::move(choices);
  info.field = field;
  info.meaning = meaning;
  return info;
}

TrialParamInfo WithAlias(TrialParamInfo info, const char* alias) {
  info.alias = alias;
  return info;
}

// Long: one line per parameter; a table, read as one.
std::vector<TrialParamInfo> BuildTable() {
  constexpr double kInf = INFINITY;
  TrialParamInfo backbone;
  backbone.name = "backbone";
  backbone.type = TrialParamType::kBackbone;
  backbone.field = &P::backbone;
  backbone.alias = "model";
  backbone.meaning =
      "the network; `torchscript:<path>`: any backbone exported to TorchScript, relative to the "
      "study file";
  TrialParamInfo weights;
  weights.name = "weights";
  weights.type = TrialParamType::kPath;
  weights.field = &P::weights;
  weights.meaning =
      "a weight file, or a folder holding `<backbone>.pt` (tools/export_torchvision_weights.py); "
      "relative to the study file";
  return {
      // Model.
      backbone,
      OneOf("head", &P::head, {"single", "multitask"},
            "single: one 18-way head; multitask: mask (3), gender (2) and age (3) heads, mask "
            "data only"),
      Flag("pretrained", &P::pretrained, "load `weights` into the backbone (never the head)"),
      weights,
      Flag("freeze_backbone", &P::freeze_backbone,
           "train the head only; needs `pretrained` or a torchscript backbone"),
      OneOf("norm", &P::norm, {"batch", "none"},
            "custom_cnn only: batch (BatchNorm after every convolution) or none"),
      // Optimisation.
      WithAlias(OneOf("optimizer", &P::optimizer, {"sgd", "adam", "adamw"}, "the optimiser"),
                "optimiser"),
      WithAlias(Number("lr", &P::lr, 0, kInf, "()", "the peak learning rate (after warm-up)"),
                "learning_rate"),
      Number("weight_decay", &P::weight_decay, 0, kInf, "[)",
             "L2 (sgd, adam) or decoupled (adamw) weight decay"),
      Number("momentum", &P::momentum, 0, 1, "[)", "sgd only (accepted and unused otherwise)"),
      Flag("nesterov", &P::nesterov, "sgd only; needs `momentum` > 0"),
      WithAlias(OneOf("schedule", &P::schedule, {"constant", "step", "cosine"},
                      "the learning-rate schedule, per batch after warm-up"),
                "scheduler"),
      Whole("warmup_epochs", &P::warmup_epochs, 0,
            "the rate rises linearly over these epochs; fewer than the trial's epochs"),
      Whole("step_size", &P::step_size, 1,
            "step schedule: multiply the rate by `step_gamma` "
            "every this many epochs"),
      Number("step_gamma", &P::step_gamma, 0, 1, "(]", "step schedule: the factor"),
      Number("grad_clip", &P::grad_clip, 0, kInf, "[)",
             "clip the gradients' global L2 norm to this (0: off)"),
      WithAlias(Whole("batch_size", &P::batch_size, 1, "images per batch"), "bs"),
      Whole("epochs", &P::epochs, 1, "epochs of this trial, at most `budget.epochs`"),
      WholeUpTo("slots_per_trial", &P::slots_per_trial, 1, 64,
                "the workers (GPUs, or worker processes on CPUs) that train this trial together; "
                "overrides `resources.slots_per_trial`"),
      // Loss.
      Number("label_smoothing", &P::label_smoothing, 0, 1, "[)",
             "the 18-way loss, or the mask and gender losses in multitask"),
      Number("age_label_smoothing", &P::age_label_smoothing, 0, 1, "[)",
             "the age loss in multitask (age bands blur)"),
      Number("mask_loss_weight", &P::mask_loss_weight, 0, kInf, "[)", "multitask only"),
      Number("gender_loss_weight", &P::gender_loss_weight, 0, kInf, "[)", "multitask only"),
      Number("age_loss_weight", &P::age_loss_weight, 0, kInf, "[)", "multitask only"),
      OneOf("class_weighting", &P::class_weighting, {"none", "balanced"},
            "balanced: weight n / (k * count) per class"),
      // Augmentation.
      Number("flip_p", &P::flip_p, 0, 1, "[]", "probability of a horizontal flip per image"),
      Number("crop_scale", &P::crop_scale, 0, 1, "(]",
             "random resized crop keeps a share in [crop_scale, 1] of the area"),
      Number("shift", &P::shift, 0, 0.5, "[)",
             "random translation, as a fraction of width and height"),
      Number("brightness", &P::brightness, 0, 1, "[)",
             "colour jitter: a factor drawn from [1 - b, 1 + b]"),
      Number("contrast", &P::contrast, 0, 1, "[)", "colour jitter, as brightness"),
      Number("saturation", &P::saturation, 0, 1, "[)", "colour jitter, as brightness"),
      Number("center_crop", &P::center_crop, 0, 1, "(]",
             "keep the central fraction of width and height (every image)"),
      // Stochastic weight averaging.
      Flag("swa", &P::swa, "stochastic weight averaging (Izmailov et al. 2018)"),
      Whole("swa_start", &P::swa_start, 1,
            "the first epoch whose end weights are averaged; at most the trial's epochs"),
      Whole("swa_freq", &P::swa_freq, 1, "average every this many epochs from `swa_start`"),
      Number("swa_lr", &P::swa_lr, 0, kInf, "()", "the constant rate from `swa_start` on"),
      // Device arithmetic.
      OneOf("precision", &P::precision, {"auto", "fp32", "bf16", "fp16"},
            "autocast; auto: bf16 on CUDA, fp32 on the CPU; fp16: CUDA only, with loss scaling"),
      OneOf("memory_format", &P::memory_format, {"auto", "channels_last", "contiguous"},
            "tensor layout; auto: channels-last on CUDA"),
      Flag("sync_bn", &P::sync_bn,
           "gang trials: BatchNorm statistics over the whole global batch, not each member's "
           "shard"),
      // Evaluation.
      OneOf("tta", &P::tta, {"none", "hflip"},
            "hflip: average each image's and its mirror's probabilities"),
  };
}

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool IsTorchscript(const json& value) {
  return value.is_string() && value.get<std::string>().rfind("torchscript:", 0) == 0 &&
         value.get<std::string>().size() > 12;
}

std::string CheckNumber(const TrialParamInfo& info, const json& value) {
  if (!value.is_number()) return "a number";
  if (!std::isfinite(value.get<double>())) return "a finite number";
  const double v = value.get<double>();
  const bool low_ok = info.closed_low ? v >= info.low : v > info.low;
  const bool high_ok = info.closed_high ? v <= info.high : v < info.high;
  return low_ok && high_ok ? "" : TrialParamDomain(info);
}

std::string CheckInt(const TrialParamInfo& info, const json& value) {
  if (!value.is_number()) return "a number";
  const double v = value.get<double>();
  // Integers may arrive as 32 or, from some YAML and JSON writers, as 32.0.
  if (!std::isfinite(v) || v != std::floor(v) || std::abs(v) > 1e9) return "an integer";
  const bool high_ok = !(info.high > info.low) || v <= info.high;
  return v >= info.low && high_ok ? "" : TrialParamDomain(info);
}

void Set(TrialParams& params, const TrialParamInfo& info, const json& value) {
  std::visit(
      [&](auto field) {
        using Field = std::remove_reference_t<decltype(params.*field)>;
        if constexpr (std::is_same_v<Field, int>) {
          params.*field = static_cast<int>(value.get<double>());
        } else {
          params.*field = value.get<Field>();
        }
      },
      info.field);
}

// Checks between parameters, once every value is known.
void CheckCombination(const TrialParams& p) {
  const auto fail = [](const std::string& text) { throw std::invalid_argument(text); };
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
  if (p.norm == "none" && p.backbone != "custom_cnn") {
    fail("trial parameter 'norm' = none needs backbone custom_cnn, got '" + p.backbone + "'");
  }
  if (p.pretrained && p.weights.empty()) {
    fail(
        "trial parameter 'pretrained' = true needs 'weights': a file written by "
        "tools/export_torchvision_weights.py, or a folder holding <backbone>.pt");
  }
  if (p.pretrained && p.backbone.rfind("torchscript:", 0) == 0) {
    fail(
        "trial parameter 'pretrained' = true: a torchscript backbone starts from the weights "
        "saved in its file; leave 'pretrained' out");
  }
  if (p.pretrained && p.backbone == "custom_cnn") {
    fail("trial parameter 'pretrained' = true: backbone custom_cnn has no pretrained weights");
  }
  if (p.freeze_backbone && !p.pretrained && p.backbone.rfind("torchscript:", 0) != 0) {
    fail(
        "trial parameter 'freeze_backbone' = true needs 'pretrained' = true (a frozen random "
        "backbone learns nothing)");
  }
}

}  // namespace

const std::vector<TrialParamInfo>& TrialParamTable() {
  static const std::vector<TrialParamInfo> table = BuildTable();
  return table;
}

const TrialParamInfo* FindTrialParam(const std::string& name) {
  for (const TrialParamInfo& info : TrialParamTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string ClosestTrialParam(const std::string& name) {
  const size_t allowed = name.size() < 5 ? 1 : name.size() < 9 ? 2 : 3;
  std::string best;
  size_t best_distance = allowed + 1;
  for (const TrialParamInfo& info : TrialParamTable()) {
    for (const char* candidate : {info.name, info.alias}) {
      if (*candidate == '\0') continue;
      const size_t distance = EditDistance(name, candidate);
      if (distance < best_distance) {
        best_distance = distance;
        best = info.name;
      }
    }
  }
  return best;
}

std::string TrialParamDomain(const TrialParamInfo& info) {
  switch (info.type) {
    case TrialParamType::kBool:
      return "true or false";
    case TrialParamType::kInt:
      if (info.high > info.low) {
        return "an integer in " + FormatNumber(info.low) + ".." + FormatNumber(info.high);
      }
      return "an integer >= " + FormatNumber(info.low);
    case TrialParamType::kNumber:
      if (std::isinf(info.high)) {
        return std::string("a number ") + (info.closed_low ? ">= " : "> ") + FormatNumber(info.low);
      }
      return std::string("a number in ") + (info.closed_low ? "[" : "(") + FormatNumber(info.low) +
             ", " + FormatNumber(info.high) + (info.closed_high ? "]" : ")");
    case TrialParamType::kChoice:
      return "one of " + JoinNames(info.choices);
    case TrialParamType::kBackbone:
      return "one of " + JoinNames(KnownBackbones()) + ", or torchscript:PATH";
    case TrialParamType::kPath:
      return "a weight file or a folder holding BACKBONE.pt";
  }
  return "?";
}

std::string CheckTrialParamValue(const TrialParamInfo& info, const json& value) {
  switch (info.type) {
    case TrialParamType::kBool:
      return value.is_boolean() ? "" : TrialParamDomain(info);
    case TrialParamType::kInt:
      return CheckInt(info, value);
    case TrialParamType::kNumber:
      return CheckNumber(info, value);
    case TrialParamType::kChoice: {
      const bool ok =
          value.is_string() && std::find(info.choices.begin(), info.choices.end(),
                                         value.get<std::string>()) != info.choices.end();
      return ok ? "" : TrialParamDomain(info);
    }
    case TrialParamType::kBackbone: {
      const auto& names = KnownBackbones();
      const bool ok = IsTorchscript(value) ||
                      (value.is_string() && std::find(names.begin(), names.end(),
                                                      value.get<std::string>()) != names.end());
      return ok ? "" : TrialParamDomain(info);
    }
    case TrialParamType::kPath:
      return value.is_string() && !value.get<std::string>().empty() ? "" : TrialParamDomain(info);
  }
  return "?";
}

std::string TrialParamDefault(const TrialParamInfo& info) {
  if (std::string(info.name) == "epochs") return "`budget.epochs`";
  static const TrialParams defaults;
  return std::visit(
      [](auto field) -> std::string {
        const auto& value = defaults.*field;
        using Field = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<Field, bool>) {
          return value ? "true" : "false";
        } else if constexpr (std::is_same_v<Field, std::string>) {
          return value.empty() ? "none" : value;
        } else {
          return FormatNumber(static_cast<double>(value));
        }
      },
      info.field);
}

std::string TrialParamsMarkdown() {
  std::string text = "| parameter | values | default | meaning |\n|---|---|---|---|\n";
  for (const TrialParamInfo& info : TrialParamTable()) {
    text += std::string("| `") + info.name + "` | " + TrialParamDomain(info) + " | " +
            TrialParamDefault(info) + " | " + info.meaning + " |\n";
  }
  return text;
}

const std::vector<std::string>& KnownBackbones() {
  static const std::vector<std::string> names = {"custom_cnn",     "resnet18",  "resnet34",
                                                 "resnet50",       "resnet101", "resnet152",
                                                 "efficientnet_b0"};
  return names;
}

const std::vector<std::string>& KnownTrialParams() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> keys;
    for (const TrialParamInfo& info : TrialParamTable()) keys.push_back(info.name);
    std::sort(keys.begin(), keys.end());
    return keys;
  }();
  return names;
}

TrialParams ParseTrialParams(const json& params, int default_epochs) {
  TrialParams out;
  out.epochs = default_epochs;
  if (!params.is_null() && !params.is_object()) {
    throw std::invalid_argument("trial parameters must be a JSON object, got " + params.dump());
  }
  if (params.is_object()) {
    for (const auto& [name, value] : params.items()) {
      const TrialParamInfo* info = FindTrialParam(name);
      if (info == nullptr) {
        throw std::invalid_argument("unknown trial parameter '" + name +
                                    "'; known parameters: " + JoinNames(KnownTrialParams()));
      }
      const std::string expected = CheckTrialParamValue(*info, value);
      if (!expected.empty()) {
        throw std::invalid_argument("trial parameter '" + name + "' = " + value.dump() +
                                    ": expected " + expected);
      }
      Set(out, *info, value);
    }
  }
  CheckCombination(out);
  return out;
}

}  // namespace ensweep
