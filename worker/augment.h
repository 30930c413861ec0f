// Batch assembly: cached uint8 images -> normalised float planes, with the trial's augmentation.
//
// No LibTorch here: the trainer hands a float buffer (a tensor's storage) to FillImage. Per image,
// a plan is drawn from the trial's Rng (DrawPlan) and then applied (FillImage):
//   - centre crop: keep the central `center_crop` fraction of width and height (every image, train
//     and evaluation alike);
//   - random resized crop: area in [crop_scale, 1] of the centre crop, aspect ratio in [3/4, 4/3]
//     of the image's, position uniform; resized back to the model's input with bilinear sampling;
//   - shift: the window moves by up to `shift` of width and height (edge pixels repeat);
//   - horizontal flip with probability flip_p;
//   - colour jitter: brightness, contrast (about the image's mean grey) and saturation factors
//     drawn from [1 - j, 1 + j], in that order, values clamped to [0, 1];
//   - ToTensor + Normalize with ImageNet mean and std, as torchvision.
// When the window is the whole image and there is no jitter, pixels are copied exactly (mirrored
// for a flip): flip_p 0 gives the image, flip_p 1 its exact mirror.
#pragma once

#include <cstdint>

#include "core/rng.h"
#include "worker/trial_params.h"

namespace ensweep {

struct ImagePlan {
  // The source window in pixels of the cached image.
  double x0 = 0, y0 = 0, w = 0, h = 0;
  bool flip = false;
  double brightness = 1, contrast = 1, saturation = 1;
  bool Jitters() const { return brightness != 1 || contrast != 1 || saturation != 1; }
};

// The normalisation of every view, per RGB channel: (value / 255 - mean) / std.
inline constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
inline constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

// The plan for one image of `width` x `height`. `train` false gives the evaluation plan (centre
// crop only) and draws nothing from rng.
ImagePlan DrawPlan(const TrialParams& params, int width, int height, bool train, Rng& rng);

// The evaluation plan, optionally mirrored (hflip test-time augmentation).
ImagePlan EvalPlan(const TrialParams& params, int width, int height, bool flip);

// Writes image `src` (height rows of width * 3 RGB bytes) as three float planes (R, G, B; each
// height x width) at `out`.
void FillImage(const uint8_t* src, int width, int height, const ImagePlan& plan, float* out);

}  // namespace ensweep
