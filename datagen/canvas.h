// A floating-point RGB drawing surface for the synthetic faces (private to datagen).
//
// Shapes are drawn in a local frame (origin, scale, rotation) so that one face description can be
// shifted, scaled and tilted per photo. A shader is called for every pixel centre inside a local
// bounding box and returns how much of its colour covers that pixel; edges are anti-aliased by the
// shaders through Cover(), which turns a signed distance into a coverage. Not thread-safe; one
// canvas per photo.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace ensweep::datagen {

struct Rgb {
  float r = 0, g = 0, b = 0;
};

inline Rgb Mix(Rgb a, Rgb b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}
inline Rgb Scale(Rgb c, float k) { return {c.r * k, c.g * k, c.b * k}; }
inline float Luma(Rgb c) { return 0.299f * c.r + 0.587f * c.g + 0.114f * c.b; }
// Moves a colour towards its own grey by `amount` (0: unchanged, 1: grey).
inline Rgb Desaturate(Rgb c, float amount) {
  const float y = Luma(c);
  return Mix(c, Rgb{y, y, y}, amount);
}

// What a shader returns for one pixel: colour and how much of the pixel it covers (0..1).
struct Fragment {
  float alpha = 0;
  Rgb color;
};

// Coverage of a pixel whose centre lies at signed distance `sdf` (negative inside) from an edge.
inline float Cover(float sdf, float pixel) { return std::clamp(0.5f - sdf / pixel, 0.0f, 1.0f); }

// Approximate signed distances (negative inside) in local units; the shapes are centred at 0.
inline float EllipseSdf(float u, float v, float a, float b) {
  const float k = std::sqrt((u / a) * (u / a) + (v / b) * (v / b));
  return (k - 1.0f) * std::min(a, b);
}
// A rounded rectangle-like superellipse |u/a|^4 + |v/b|^4 = 1 (the shape of a face mask).
inline float SquircleSdf(float u, float v, float a, float b) {
  const float x = (u / a) * (u / a), y = (v / b) * (v / b);
  return (std::sqrt(std::sqrt(x * x + y * y)) - 1.0f) * std::min(a, b);
}
// Distance to the segment (u0,v0)-(u1,v1).
inline float SegmentDistance(float u, float v, float u0, float v0, float u1, float v1) {
  const float du = u1 - u0, dv = v1 - v0;
  const float len2 = du * du + dv * dv;
  const float t = len2 > 0 ? std::clamp(((u - u0) * du + (v - v0) * dv) / len2, 0.0f, 1.0f) : 0.0f;
  const float pu = u0 + t * du - u, pv = v0 + t * dv - v;
  return std::sqrt(pu * pu + pv * pv);
}
// Distance to the parabolic arc v = v0 + bend * s^2 for u in [u0, u1], s = -1..1 across the arc.
inline float ArcDistance(float u, float v, float u0, float u1, float v0, float bend) {
  const float mid = 0.5f * (u0 + u1), half = 0.5f * (u1 - u0);
  const float uc = std::clamp(u, u0, u1);
  const float s = (uc - mid) / half;
  const float slope = 2.0f * bend * s / half;
  const float dv = v - (v0 + bend * s * s);
  const float du = u - uc;
  return std::sqrt(du * du + dv * dv / (1.0f + slope * slope));
}

class Canvas {
 public:
  Canvas(int width, int height) : width_(width), height_(height), pixels_(width * height) {}

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb* Row(int y) { return pixels_.data() + static_cast<size_t>(y) * width_; }

  // Local (0,0) sits at pixel position (origin_x, origin_y); one local unit is unit_px pixels; the
  // local axes are rotated clockwise by angle_rad (image y points down).
  void SetFrame(float origin_x, float origin_y, float unit_px, float angle_rad) {
    origin_x_ = origin_x;
    origin_y_ = origin_y;
    unit_px_ = unit_px;
    cos_ = std::cos(angle_rad);
    sin_ = std::sin(angle_rad);
  }
  // The size of one pixel in local units: the anti-aliasing width for Cover().
  float PixelSize() const { return 1.0f / unit_px_; }

  // Calls shade(u, v) -> Fragment for every pixel centre inside the local box [u0,u1] x [v0,v1]
  // (clipped to the image) and blends the result over the canvas.
  template <class Shader>
  void Paint(float u0, float v0, float u1, float v1, Shader&& shade) {
    float min_x = 1e30f, min_y = 1e30f, max_x = -1e30f, max_y = -1e30f;
    for (float u : {u0, u1}) {
      for (float v : {v0, v1}) {
        const float x = origin_x_ + unit_px_ * (cos_ * u - sin_ * v);
        const float y = origin_y_ + unit_px_ * (sin_ * u + cos_ * v);
        min_x = std::min(min_x, x), max_x = std::max(max_x, x);
        min_y = std::min(min_y, y), max_y = std::max(max_y, y);
      }
    }
    const int x0 = std::max(0, static_cast<int>(std::floor(min_x)) - 1);
    const int y0 = std::max(0, static_cast<int>(std::floor(min_y)) - 1);
    const int x1 = std::min(width_ - 1, static_cast<int>(std::ceil(max_x)) + 1);
    const int y1 = std::min(height_ - 1, static_cast<int>(std::ceil(max_y)) + 1);
    const float inv = 1.0f / unit_px_;
    for (int y = y0; y <= y1; ++y) {
      Rgb* row = Row(y);
      const float dy = (y + 0.5f - origin_y_) * inv;
      for (int x = x0; x <= x1; ++x) {
        const float dx = (x + 0.5f - origin_x_) * inv;
        const float u = cos_ * dx + sin_ * dy;
        const float v = -sin_ * dx + cos_ * dy;
        const Fragment f = shade(u, v);
        if (f.alpha > 0.0f) row[x] = Mix(row[x], f.color, std::min(f.alpha, 1.0f));
      }
    }
  }

 private:
  int width_;
  int height_;
  std::vector<Rgb> pixels_;
  float origin_x_ = 0, origin_y_ = 0, unit_px_ = 1, cos_ = 1, sin_ = 0;
};

}  // namespace ensweep::datagen
