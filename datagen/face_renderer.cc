#include "datagen/face_renderer.h"

#include <algorithm>
#include <cmath>

#include "datagen/canvas.h"
#include "datagen/mask_drawing.h"

namespace ensweep::datagen {
namespace {

float U(Rng& rng, double low, double high) { return static_cast<float>(rng.Uniform(low, high)); }

// What changes between two photos of the same person (besides the mask).
struct Shot {
  float shift_x, shift_y;  // fractions of the frame
  float scale, tilt_rad;
  float brightness, contrast, noise_sigma;
  Rgb cast;
  float smile, gaze;
};

Shot SampleShot(Rng& rng) {
  Shot s;
  s.shift_x = U(rng, -0.04, 0.04);
  s.shift_y = U(rng, -0.03, 0.03);
  s.scale = U(rng, 0.92, 1.08);
  s.tilt_rad = std::clamp(static_cast<float>(rng.Normal()) * 0.05f, -0.12f, 0.12f);
  s.brightness = U(rng, 0.9, 1.1);
  s.contrast = U(rng, 0.94, 1.06);
  s.noise_sigma = U(rng, 1.5, 4.5);
  s.cast = {U(rng, -3, 3), U(rng, -3, 3), U(rng, -3, 3)};
  s.smile = U(rng, -0.01, 0.035);
  s.gaze = U(rng, -0.015, 0.015);
  return s;
}

// A stable pseudo-random value in [0, 1) for an integer cell (hair strands).
float CellNoise(int a, int b) {
  const uint64_t key =
      (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) ^ static_cast<uint32_t>(b);
  return static_cast<float>(Mix64(key) >> 40) * 0x1.0p-24f;
}

class FacePainter {
 public:
  FacePainter(const Person& person, const Shot& shot, Canvas& canvas)
      : p_(person), shot_(shot), canvas_(canvas), fw_(person.face_width) {}

  void Draw(int mask_state, const MaskLook& mask) {
    Background();
    const float unit = std::min(canvas_.width() * 0.27f, canvas_.height() * 0.2f) * shot_.scale;
    canvas_.SetFrame(canvas_.width() * (0.5f + shot_.shift_x),
                     canvas_.height() * (0.44f + shot_.shift_y), unit, shot_.tilt_rad);
    px_ = canvas_.PixelSize();
    Body();
    BackHair();
    Neck();
    Ears();
    Face();
    Eyes();
    Brows();
    Nose();
    Mouth();
    Wrinkles();
    if (mask_state != 2) {
      DrawMask(p_, mask, canvas_);
    }
    TopHair();
  }

 private:
  float FaceSdf(float u, float v) const { return FaceOutlineSdf(p_, u, v); }

  Rgb HairColor(float u, float v) const {
    Rgb c = Mix(p_.hair, Rgb{150, 150, 152}, p_.grey * 0.35f);
    // Strands of random brightness; grey ones scattered with a probability that grows with `grey`.
    // Strands narrower than a pixel fade into their average instead of aliasing into speckles.
    const float detail = std::clamp(1.6f - px_ * 80.0f, 0.0f, 1.0f);
    const int cell_u = static_cast<int>(std::floor(u * 80.0f + v * 12.0f));
    const int cell_v = static_cast<int>(std::floor(v * 18.0f));
    const float strand = CellNoise(cell_u, cell_v);
    const float grey_strands = 0.7f * p_.grey;
    const float greyness =
        detail * (strand < grey_strands ? 1.0f : 0.0f) + (1 - detail) * grey_strands;
    c = Mix(c, Rgb{196, 196, 198}, 0.55f * greyness);
    const float sheen = detail * 16.0f * (CellNoise(cell_v, cell_u) - 0.5f) +
                        5.0f * std::sin(u * 40.0f + 3.0f * std::sin(v * 7.0f)) - 10.0f * v;
    return {c.r + sheen, c.g + sheen, c.b + sheen};
  }

  // A line of the given half width drawn with `alpha`; thin lines keep their ink when they are
  // narrower than a pixel instead of turning into full-pixel lines.
  template <class Distance>
  void Stroke(float u0, float v0, float u1, float v1, Distance distance, float half_width,
              Rgb color, float alpha) {
    const float width = std::max(half_width, 0.5f * px_);
    const float ink = alpha * std::min(1.0f, half_width / (0.5f * px_));
    if (ink <= 0.002f) return;
    const float m = width + px_;
    canvas_.Paint(u0 - m, v0 - m, u1 + m, v1 + m, [&](float u, float v) {
      return Fragment{ink * Cover(distance(u, v) - width, px_), color};
    });
  }

  void Line(float u0, float v0, float u1, float v1, float half_width, Rgb color, float alpha) {
    Stroke(
        std::min(u0, u1), std::min(v0, v1), std::max(u0, u1), std::max(v0, v1),
        [=](float u, float v) { return SegmentDistance(u, v, u0, v0, u1, v1); }, half_width, color,
        alpha);
  }

  // Arc v = v0 + bend * s^2 over u in [u0, u1] (s = -1..1).
  void Arc(float u0, float u1, float v0, float bend, float half_width, Rgb color, float alpha) {
    Stroke(
        u0, std::min(v0, v0 + bend), u1, std::max(v0, v0 + bend),
        [=](float u, float v) { return ArcDistance(u, v, u0, u1, v0, bend); }, half_width, color,
        alpha);
  }

  void Background() {
    const float w = static_cast<float>(canvas_.width()), h = static_cast<float>(canvas_.height());
    const float cx = std::cos(p_.gradient_angle), cy = std::sin(p_.gradient_angle);
    for (int y = 0; y < canvas_.height(); ++y) {
      Rgb* row = canvas_.Row(y);
      for (int x = 0; x < canvas_.width(); ++x) {
        const float t = (x / w - 0.5f) * cx + (y / h - 0.5f) * cy;
        row[x] = Scale(p_.background, 1.0f + 2.0f * p_.gradient * t);
      }
    }
  }

  void Body() {
    canvas_.Paint(-2.3f, 1.2f, 2.3f, 4.5f, [&](float u, float v) {
      const float a = Cover(EllipseSdf(u, v - 2.75f, 2.1f, 1.45f), px_);
      return Fragment{a, Scale(p_.clothes, 1.0f - 0.08f * std::abs(u))};
    });
  }

  void BackHair() {
    if (p_.hair_length <= 0) return;  // short hair has nothing behind the neck
    const float hv = p_.hair_volume, width = fw_ + hv + 0.1f, length = p_.hair_length;
    canvas_.Paint(-width, -1.1f - hv, width, length, [&](float u, float v) {
      const float cap = EllipseSdf(u, v + 0.12f, fw_ + hv + 0.05f, 0.9f + hv);
      const float curtain =
          SquircleSdf(u, v - 0.5f * (length - 0.3f), width, 0.5f * (length + 0.3f)) +
          0.02f * std::sin(u * 31.0f);
      const float a = Cover(std::min(cap, curtain), px_);
      return a > 0 ? Fragment{a, Scale(HairColor(u, v), 0.85f)} : Fragment{};
    });
  }

  void Neck() {
    const float half = 0.34f * fw_ / 0.78f;
    canvas_.Paint(-half, 0.4f, half, 1.8f, [&](float u, float v) {
      const float a = Cover(SquircleSdf(u, v - 1.1f, half, 0.7f), px_);
      const float shadow = std::clamp((1.25f - v) * 0.5f, 0.0f, 0.25f);  // under the chin
      return Fragment{a, Scale(p_.skin, 0.92f - shadow)};
    });
  }

  void Ears() {
    for (float side : {-1.0f, 1.0f}) {
      const float cu = side * (fw_ - 0.02f);
      canvas_.Paint(cu - 0.13f, -0.2f, cu + 0.13f, 0.24f, [&](float u, float v) {
        return Fragment{Cover(EllipseSdf(u - cu, v - 0.02f, 0.11f, 0.2f), px_),
                        Scale(p_.skin, 0.9f)};
      });
    }
  }

  void Face() {
    canvas_.Paint(-fw_ - 0.05f, -1.05f, fw_ + 0.05f, 1.05f, [&](float u, float v) {
      const float a = Cover(FaceSdf(u, v), px_);
      if (a <= 0) return Fragment{};
      const float k = (u / fw_) * (u / fw_) + v * v;  // 0 at the centre, 1 at the rim
      return Fragment{a, Scale(p_.skin, 1.0f - 0.13f * k * k - 0.04f * v)};
    });
  }

  void Eyes() {
    const float rx = 0.1f * p_.eye_size, ry = 0.045f * p_.eye_size, v0 = -0.1f;
    for (float side : {-1.0f, 1.0f}) {
      const float cu = side * p_.eye_gap, iris_u = cu + shot_.gaze;
      canvas_.Paint(cu - rx, v0 - ry, cu + rx, v0 + ry, [&](float u, float v) {
        const float white = Cover(EllipseSdf(u - cu, v - v0, rx, ry), px_);
        if (white <= 0) return Fragment{};
        const float d = std::sqrt((u - iris_u) * (u - iris_u) + (v - v0) * (v - v0));
        const float iris = Cover(d - 0.85f * ry, px_), pupil = Cover(d - 0.35f * ry, px_);
        Rgb c = Mix(Rgb{232, 228, 224}, p_.iris, iris);
        return Fragment{white, Mix(c, Rgb{12, 10, 10}, pupil)};
      });
      Arc(cu - rx * 1.05f, cu + rx * 1.05f, v0 - ry * 1.05f, ry * 0.9f, 0.011f, Rgb{40, 28, 24},
          0.9f);
    }
  }

  void Brows() {
    const Rgb color = Scale(Mix(p_.hair, Rgb{175, 175, 178}, p_.grey * 0.6f), 0.95f);
    for (float side : {-1.0f, 1.0f}) {
      const float cu = side * p_.eye_gap;
      Arc(cu - 0.13f, cu + 0.13f, -0.29f - p_.brow_arch, p_.brow_arch, p_.brow_thickness, color,
          0.9f);
    }
  }

  void Nose() {
    const Rgb shadow = Scale(p_.skin, 0.72f);
    Line(0.05f, -0.08f, 0.075f, 0.13f, 0.018f, shadow, 0.3f);
    canvas_.Paint(-0.1f, 0.1f, 0.1f, 0.22f, [&](float u, float v) {
      const float a = 0.45f * Cover(EllipseSdf(u, v - 0.16f, 0.1f, 0.06f), 3.0f * px_);
      return Fragment{a, Scale(p_.skin, 0.9f)};
    });
    for (float side : {-1.0f, 1.0f}) {
      const float cu = side * 0.05f;
      canvas_.Paint(cu - 0.03f, 0.18f, cu + 0.03f, 0.22f, [&](float u, float v) {
        return Fragment{0.8f * Cover(EllipseSdf(u - cu, v - 0.2f, 0.028f, 0.014f), px_),
                        Scale(p_.skin, 0.45f)};
      });
    }
  }

  void Mouth() {
    canvas_.Paint(-0.18f, 0.39f, 0.18f, 0.51f, [&](float u, float v) {
      return Fragment{Cover(EllipseSdf(u, v - 0.45f, 0.17f, 0.05f), px_), p_.lips};
    });
    Arc(-0.17f, 0.17f, 0.45f + shot_.smile, -shot_.smile, 0.01f, Scale(p_.lips, 0.45f), 0.9f);
  }

  // Age cues: all scale with p_.wrinkles, which grows continuously with age.
  void Wrinkles() {
    const float w = p_.wrinkles;
    if (w <= 0) return;
    const Rgb line = Scale(p_.skin, 0.62f);
    const float thick = 0.006f + 0.005f * w;
    for (float v0 : {-0.43f, -0.5f, -0.57f}) {
      if (v0 > p_.hairline + 0.05f && !p_.bangs)
        Arc(-0.3f, 0.3f, v0, 0.025f, thick, line, 0.4f * w);
    }
    for (float side : {-1.0f, 1.0f}) {
      const float corner = side * (p_.eye_gap + 0.12f);
      for (float dv : {-0.04f, 0.0f, 0.04f}) {
        Line(corner, -0.1f + dv * 0.3f, corner + side * 0.08f, -0.1f + dv, thick, line, 0.45f * w);
      }
      Arc(side * p_.eye_gap - 0.08f, side * p_.eye_gap + 0.08f, -0.035f, -0.015f, thick, line,
          0.35f * w);
      Line(side * 0.12f, 0.15f, side * 0.22f, 0.48f, thick * 1.2f, line, 0.4f * w);
    }
  }

  void TopHair() {
    const float hv = p_.hair_volume;
    // Short hair stops above the ears; long hair covers them and continues behind the neck.
    const float side_limit = p_.hair_length > 0 ? p_.hair_length : -0.18f;
    const float width = fw_ + hv + 0.02f;
    canvas_.Paint(-width, -1.05f - hv, width, std::max(side_limit, 0.45f), [&](float u, float v) {
      const float cap = Cover(EllipseSdf(u, v + 0.12f, fw_ + hv, 0.88f + hv), px_);
      if (cap <= 0) return Fragment{};
      const float t = u / fw_;
      const float hairline =
          p_.bangs ? -0.38f + 0.12f * t * t : p_.hairline + p_.part * u + 0.3f * t * t;
      const float above = Cover(v - hairline, px_);
      const float outside_face = Cover(-FaceSdf(u, v), px_);
      const float a = std::min({cap, Cover(v - side_limit, px_), std::max(above, outside_face)});
      return Fragment{a, HairColor(u, v)};
    });
  }

  const Person& p_;
  const Shot& shot_;
  Canvas& canvas_;
  const float fw_;
  float px_ = 1.0f;
};

}  // namespace

std::vector<uint8_t> RenderPhoto(const Person& person, int mask_state, int width, int height,
                                 Rng& rng) {
  const Shot shot = SampleShot(rng);
  const MaskLook mask = SampleMaskLook(mask_state, rng);
  Canvas canvas(width, height);
  FacePainter(person, shot, canvas).Draw(mask_state, mask);

  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  uint8_t* out = rgb.data();
  const auto quantise = [](float value) {
    return static_cast<uint8_t>(std::clamp(value + 0.5f, 0.0f, 255.0f));
  };
  // Sum of four uniforms, rescaled to unit variance: close enough to gaussian sensor noise.
  const float noise_scale = shot.noise_sigma * std::sqrt(3.0f) / 65536.0f;
  for (int y = 0; y < height; ++y) {
    const Rgb* row = canvas.Row(y);
    for (int x = 0; x < width; ++x) {
      const uint64_t bits = rng.NextU64();
      const float sum = static_cast<float>((bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) +
                                           ((bits >> 32) & 0xFFFF) + (bits >> 48));
      const float noise = (sum - 2.0f * 65535.0f) * noise_scale;
      const auto adjust = [&](float c, float cast) {
        return (c * shot.brightness - 128.0f) * shot.contrast + 128.0f + cast + noise;
      };
      *out++ = quantise(adjust(row[x].r, shot.cast.r));
      *out++ = quantise(adjust(row[x].g, shot.cast.g));
      *out++ = quantise(adjust(row[x].b, shot.cast.b));
    }
  }
  return rgb;
}

}  // namespace ensweep::datagen
