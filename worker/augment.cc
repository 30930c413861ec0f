#include "worker/augment.h"

#include <algorithm>
#include <cmath>

namespace ensweep {
namespace {

// uint8 -> normalised float per channel: one lookup per value.
struct Normaliser {
  float table[3][256];
  Normaliser() {
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) table[c][v] = (v / 255.0f - kImageNetMean[c]) / kImageNetStd[c];
    }
  }
};

const Normaliser& Norm() {
  static const Normaliser norm;
  return norm;
}

void CenterWindow(const TrialParams& params, int width, int height, ImagePlan& plan) {
  plan.w = width * params.center_crop;
  plan.h = height * params.center_crop;
  plan.x0 = (width - plan.w) / 2;
  plan.y0 = (height - plan.h) / 2;
}

// Exact copy of the whole image, mirrored or not.
void CopyExact(const uint8_t* src, int width, int height, bool flip, float* out) {
  const Normaliser& norm = Norm();
  const int64_t plane = static_cast<int64_t>(width) * height;
  float* r = out;
  float* g = r + plane;
  float* b = g + plane;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = src + static_cast<int64_t>(y) * width * 3;
    const int64_t o = static_cast<int64_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      const uint8_t* p = row + (flip ? width - 1 - x : x) * 3;
      r[o + x] = norm.table[0][p[0]];
      g[o + x] = norm.table[1][p[1]];
      b[o + x] = norm.table[2][p[2]];
    }
  }
}

// Bilinear resampling of the plan's window into [0, 1] floats (torchvision's align_corners=False
// convention); positions outside the image repeat the edge.
void Resample(const uint8_t* src, int width, int height, const ImagePlan& plan, float* out) {
  const int64_t plane = static_cast<int64_t>(width) * height;
  const double sx = plan.w / width, sy = plan.h / height;
  for (int y = 0; y < height; ++y) {
    const double fy = std::clamp(plan.y0 + (y + 0.5) * sy - 0.5, 0.0, height - 1.0);
    const int y0 = static_cast<int>(fy);
    const int y1 = std::min(y0 + 1, height - 1);
    const float wy = static_cast<float>(fy - y0);
    const uint8_t* row0 = src + static_cast<int64_t>(y0) * width * 3;
    const uint8_t* row1 = src + static_cast<int64_t>(y1) * width * 3;
    for (int x = 0; x < width; ++x) {
      const int ox = plan.flip ? width - 1 - x : x;
      const double fx = std::clamp(plan.x0 + (ox + 0.5) * sx - 0.5, 0.0, width - 1.0);
      const int x0 = static_cast<int>(fx);
      const int x1 = std::min(x0 + 1, width - 1);
      const float wx = static_cast<float>(fx - x0);
      for (int c = 0; c < 3; ++c) {
        const float top = row0[x0 * 3 + c] * (1 - wx) + row0[x1 * 3 + c] * wx;
        const float bottom = row1[x0 * 3 + c] * (1 - wx) + row1[x1 * 3 + c] * wx;
        out[c * plane + static_cast<int64_t>(y) * width + x] = (top * (1 - wy) + bottom * wy) / 255;
      }
    }
  }
}

// Brightness, contrast and saturation as torchvision's ColorJitter (fixed order), on [0, 1] planes.
void Jitter(const ImagePlan& plan, int64_t plane, float* out) {
  float* r = out;
  float* g = r + plane;
  float* b = g + plane;
  const auto clamp01 = [](float v) { return std::min(1.0f, std::max(0.0f, v)); };
  const auto grey = [&](int64_t i) { return 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i]; };
  if (plan.brightness != 1) {
    const float f = static_cast<float>(plan.brightness);
    for (int64_t i = 0; i < 3 * plane; ++i) out[i] = clamp01(out[i] * f);
  }
  if (plan.contrast != 1) {
    double sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += grey(i);
    const float mean = static_cast<float>(sum / plane), f = static_cast<float>(plan.contrast);
    for (int64_t i = 0; i < 3 * plane; ++i) out[i] = clamp01(mean + (out[i] - mean) * f);
  }
  if (plan.saturation != 1) {
    const float f = static_cast<float>(plan.saturation);
    for (int64_t i = 0; i < plane; ++i) {
      const float m = grey(i);
      r[i] = clamp01(m + (r[i] - m) * f);
      g[i] = clamp01(m + (g[i] - m) * f);
      b[i] = clamp01(m + (b[i] - m) * f);
    }
  }
}

}  // namespace

ImagePlan EvalPlan(const TrialParams& params, int width, int height, bool flip) {
  ImagePlan plan;
  CenterWindow(params, width, height, plan);
  plan.flip = flip;
  return plan;
}

ImagePlan DrawPlan(const TrialParams& params, int width, int height, bool train, Rng& rng) {
  ImagePlan plan;
  CenterWindow(params, width, height, plan);
  if (!train) return plan;
  if (params.crop_scale < 1) {
    const double area = rng.Uniform(params.crop_scale, 1.0);
    const double ratio = std::exp(rng.Uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
    const double w = std::min(plan.w, plan.w * std::sqrt(area * ratio));
    const double h = std::min(plan.h, plan.h * std::sqrt(area / ratio));
    plan.x0 += rng.Uniform() * (plan.w - w);
    plan.y0 += rng.Uniform() * (plan.h - h);
    plan.w = w;
    plan.h = h;
  }
  if (params.shift > 0) {
    plan.x0 += rng.Uniform(-params.shift, params.shift) * width;
    plan.y0 += rng.Uniform(-params.shift, params.shift) * height;
  }
  plan.flip = rng.Uniform() < params.flip_p;
  if (params.brightness > 0)
    plan.brightness = rng.Uniform(1 - params.brightness, 1 + params.brightness);
  if (params.contrast > 0) plan.contrast = rng.Uniform(1 - params.contrast, 1 + params.contrast);
  if (params.saturation > 0)
    plan.saturation = rng.Uniform(1 - params.saturation, 1 + params.saturation);
  return plan;
}

void FillImage(const uint8_t* src, int width, int height, const ImagePlan& plan, float* out) {
  const bool whole = plan.x0 == 0 && plan.y0 == 0 && plan.w == width && plan.h == height;
  if (whole && !plan.Jitters()) {
    CopyExact(src, width, height, plan.flip, out);
    return;
  }
  const int64_t plane = static_cast<int64_t>(width) * height;
  Resample(src, width, height, plan, out);
  if (plan.Jitters()) Jitter(plan, plane, out);
  for (int c = 0; c < 3; ++c) {
    float* p = out + c * plane;
    for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - kImageNetMean[c]) / kImageNetStd[c];
  }
}

}  // namespace ensweep
