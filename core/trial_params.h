// The parameters a trial of the torch trainer may set: one table (name, type, range or choices,
// default, meaning) that drives three things, so that they cannot disagree:
//   - ParseTrialParams, which the worker runs on every trial before training;
//   - the study loader (core/study.cc), which checks every `space` key, constant, range end,
//     choice and `enqueue` value of a torch study against it, so that a typo stops the load with
//     file:line instead of failing every trial after the data was decoded;
//   - the parameter list in studies/README.md (TrialParamsMarkdown; a test compares the two).
// Torch-free: core links it into both the `ensweep` executable and the torch module.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace ensweep {

struct TrialParams {
  // Model.
  std::string backbone = "custom_cnn";  // see KnownBackbones(), or "torchscript:<path>"
  std::string head = "single";          // single (18-way) | multitask (mask 3, gender 2, age 3)
  bool pretrained = false;              // load `weights` into the backbone (never the head)
  // A weight file, or a folder holding <backbone>.pt; a relative path is
  // relative to the study file.
  std::string weights;
  bool freeze_backbone = false;  // train the head only
  std::string norm = "batch";    // batch | none (custom_cnn only: no BatchNorm layers)

  // Optimisation.
  std::string optimizer = "sgd";      // sgd | adam | adamw
  double lr = 0.01;                   // > 0; the peak rate (after warm-up)
  double weight_decay = 0.0;          // >= 0; L2 (sgd, adam) or decoupled (adamw)
  double momentum = 0.9;              // [0, 1); sgd only (accepted and unused otherwise)
  bool nesterov = false;              // sgd only; needs momentum > 0
  std::string schedule = "constant";  // constant | step | cosine (per batch, after warm-up)
  int warmup_epochs = 0;              // >= 0, < epochs; lr rises linearly over these epochs
  int step_size = 1;                  // >= 1; step schedule: multiply by step_gamma every N epochs
  double step_gamma = 0.1;            // (0, 1]
  double grad_clip = 0.0;             // >= 0; clip the gradients' global L2 norm (0: off)
  int batch_size = 32;                // >= 1
  int epochs = 1;                     // >= 1; the request's epochs unless the trial sets it
  // 1..64; the slots (workers) the trial runs on. Read by the coordinator, which starts the trial
  // as a gang of this many workers (core/trainer.h GangInfo); the trainer reads its gang from
  // TrialRequest::gang, not from here. Every trainer accepts it.
  int slots_per_trial = 1;

  // Loss.
  double label_smoothing = 0.0;          // [0, 1); the 18-way loss, or mask and gender in multitask
  double age_label_smoothing = 0.0;      // [0, 1); the age loss in multitask (age bands blur)
  double mask_loss_weight = 1.0;         // >= 0; multitask only
  double gender_loss_weight = 1.0;       // >= 0; multitask only
  double age_loss_weight = 1.0;          // >= 0; multitask only
  std::string class_weighting = "none";  // none | balanced (weight n / (k * count) per class)

  // Augmentation (training images; center_crop applies to every image).
  double flip_p = 0.5;       // [0, 1]; probability of a horizontal flip per image
  double crop_scale = 1.0;   // (0, 1]; random resized crop keeps [crop_scale, 1] of the area
  double shift = 0.0;        // [0, 0.5); random translation, as a fraction of width and height
  double brightness = 0.0;   // [0, 1); colour jitter factor drawn from [1 - b, 1 + b]
  double contrast = 0.0;     // [0, 1)
  double saturation = 0.0;   // [0, 1)
  double center_crop = 1.0;  // (0, 1]; keep the central fraction of width and height

  // Stochastic weight averaging (Izmailov et al. 2018).
  bool swa = false;
  int swa_start = 1;     // >= 1, <= epochs: the first epoch whose end weights are averaged
  int swa_freq = 1;      // >= 1: average every swa_freq epochs from swa_start
  double swa_lr = 5e-4;  // > 0: the constant rate from swa_start on

  // Device arithmetic. auto: bf16 autocast and channels-last on CUDA, fp32 and
  // contiguous on CPU.
  std::string precision = "auto";      // auto | fp32 | bf16 | fp16 (fp16: CUDA only, loss scaling)
  std::string memory_format = "auto";  // auto | channels_last | contiguous
  // Data-parallel gangs (resources.slots_per_trial > 1): synchronise BatchNorm's batch statistics
  // over the members in training (false: each member normalises over its own shard).
  bool sync_bn = false;

  // Evaluation.
  std::string tta = "none";  // none | hflip (average the image's and its
                             // mirror's probabilities)
};

enum class TrialParamType {
  kBool,
  kInt,       // a whole number >= low, and <= high when high > low (32.0 is accepted as 32)
  kNumber,    // a finite number in the range below
  kChoice,    // one of `choices`
  kBackbone,  // one of KnownBackbones(), or "torchscript:<path>"
  kPath,      // a non-empty path
};

// One row of the table.
struct TrialParamInfo {
  const char* name = "";
  TrialParamType type = TrialParamType::kBool;
  double low = 0, high = 0;  // kNumber; kInt: low is the minimum, high the maximum if > low
  bool closed_low = true, closed_high = true;  // kNumber: whether each end is allowed
  std::vector<std::string> choices;            // kChoice
  const char* meaning = "";
  const char* alias = "";  // a common other name, for "did you mean" ("learning_rate" -> "lr")
  std::variant<bool TrialParams::*, int TrialParams::*, double TrialParams::*,
               std::string TrialParams::*>
      field;
};

// The table, in the order studies/README.md lists it (grouped: model, optimisation, loss,
// augmentation, SWA, device, evaluation).
const std::vector<TrialParamInfo>& TrialParamTable();

// The row named `name`, or null.
const TrialParamInfo* FindTrialParam(const std::string& name);

// The known name closest to `name` (a small edit distance from it or from a row's alias), or ""
// when none is close.
std::string ClosestTrialParam(const std::string& name);

// What a value of the parameter must be ("a number > 0", "one of sgd, adam, adamw").
std::string TrialParamDomain(const TrialParamInfo& info);

// Whether `value` is a valid value of the parameter on its own (CheckCombination's checks between
// parameters aside): "" when it is, else what was expected (TrialParamDomain).
std::string CheckTrialParamValue(const TrialParamInfo& info, const nlohmann::json& value);

// The parameter's default as studies/README.md shows it.
std::string TrialParamDefault(const TrialParamInfo& info);

// The markdown table of every parameter, as studies/README.md holds it between the markers
// kTrialParamsBegin and kTrialParamsEnd.
std::string TrialParamsMarkdown();
inline constexpr const char* kTrialParamsBegin =
    "<!-- trial parameters: generated from core/trial_params.cc -->";
inline constexpr const char* kTrialParamsEnd = "<!-- end of trial parameters -->";

// Backbone names the worker can build, in the order shown in messages.
const std::vector<std::string>& KnownBackbones();

// Known parameter names, sorted.
const std::vector<std::string>& KnownTrialParams();

// Parses `params` (an object, or null for all defaults). `default_epochs` is
// the request's epoch budget. Throws std::invalid_argument naming the parameter
// and what was expected.
TrialParams ParseTrialParams(const nlohmann::json& params, int default_epochs);

}  // namespace ensweep
