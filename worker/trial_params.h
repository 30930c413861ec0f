// The parameters a trial may set, validated once before any training starts.
//
// A study's search space produces a JSON object of name -> value per trial. The
// worker accepts exactly the names below; any other name fails the trial with a
// message listing the known ones (a typo in a study must not silently train
// with a default). Every value is checked here, so the trainer can trust a
// TrialParams: a bad value throws std::invalid_argument naming the parameter
// and what was expected.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
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

  // Evaluation.
  std::string tta = "none";  // none | hflip (average the image's and its
                             // mirror's probabilities)
};

// Backbone names the worker can build, in the order shown in messages.
const std::vector<std::string> &KnownBackbones();

// Known parameter names, sorted.
const std::vector<std::string> &KnownTrialParams();

// Parses `params` (an object, or null for all defaults). `default_epochs` is
// the request's epoch budget. Throws std::invalid_argument naming the parameter
// and what was expected.
TrialParams ParseTrialParams(const nlohmann::json &params, int default_epochs);

}  // namespace ensweep
