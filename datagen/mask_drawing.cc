#include "datagen/mask_drawing.h"

#include <algorithm>
#include <cmath>

namespace ensweep::datagen {

MaskLook SampleMaskLook(int mask_state, Rng& rng) {
  MaskLook look;
  const double kind = rng.Uniform();
  const auto wobble = [&](Rgb c) {
    const float k = static_cast<float>(rng.Uniform(0.93, 1.05));
    return Rgb{std::min(c.r * k, 255.0f), std::min(c.g * k, 255.0f), std::min(c.b * k, 255.0f)};
  };
  static const Rgb kAccents[] = {{30, 40, 90},  {200, 60, 60},  {240, 240, 236},
                                 {60, 120, 80}, {230, 190, 60}, {40, 40, 44}};
  if (kind < 0.22) {
    look.color = wobble({238, 238, 236}), look.pattern = MaskPattern::kPleats;
  } else if (kind < 0.44) {
    look.color = wobble({160, 200, 230}), look.pattern = MaskPattern::kPleats;
  } else if (kind < 0.64) {
    look.color = wobble({34, 34, 38});
  } else if (kind < 0.76) {
    look.color = wobble({150, 150, 156});
  } else if (kind < 0.86) {
    look.color = wobble({238, 182, 200});
  } else {
    look.color = wobble({220, 216, 206});
    look.pattern = rng.Uniform() < 0.5 ? MaskPattern::kStripes : MaskPattern::kDots;
  }
  look.accent = kAccents[rng.Below(6)];
  if (mask_state == 1) {
    // Pulled down: the nose (tip at about 0.22) stays visible.
    look.top = static_cast<float>(rng.Uniform(0.27, 0.36));
    look.bottom = static_cast<float>(rng.Uniform(1.05, 1.12));
  } else {
    look.top = static_cast<float>(rng.Uniform(-0.1, -0.02));
    look.bottom = static_cast<float>(rng.Uniform(1.02, 1.1));
  }
  return look;
}

void DrawMask(const Person& person, const MaskLook& look, Canvas& canvas) {
  const float px = canvas.PixelSize();
  // How much of a pattern with the given period survives at this resolution: finer patterns fade
  // into their average colour instead of aliasing.
  const auto detail = [px](float period) {
    return std::clamp(period / (3.0f * px) - 0.5f, 0.0f, 1.0f);
  };
  const float pleat_ink = 0.25f * std::min(1.0f, 0.012f / (0.5f * px));
  const float stripe_detail = detail(0.2f), dot_detail = detail(1.0f / 12.0f);
  const float half_width = person.face_width * 1.03f;
  const float centre = 0.5f * (look.top + look.bottom),
              half_height = 0.5f * (look.bottom - look.top);
  canvas.Paint(-half_width, look.top, half_width, look.bottom, [&](float u, float v) {
    // The mask follows the face at the sides and the chin, as if it wrapped around it.
    const float alpha = std::min(Cover(SquircleSdf(u, v - centre, half_width, half_height), px),
                                 Cover(FaceOutlineSdf(person, u, v) - 0.03f, px));
    if (alpha <= 0) return Fragment{};
    Rgb c = look.color;
    switch (look.pattern) {
      case MaskPattern::kPlain:
        break;
      case MaskPattern::kPleats: {
        const float s = (v - look.top) / (look.bottom - look.top);
        float d = 1.0f;
        for (float line : {0.35f, 0.55f, 0.75f}) d = std::min(d, std::abs(s - line));
        const float width = std::max(0.012f, 0.5f * px);
        c = Scale(c, 1.0f - pleat_ink * Cover(d * 2.0f * half_height - width, px));
        break;
      }
      case MaskPattern::kStripes: {
        const float stripe = Cover(-std::sin((u * 0.6f + v) * 26.0f) * 0.02f, px);
        c = Mix(c, look.accent, stripe_detail * stripe + (1 - stripe_detail) * 0.5f);
        break;
      }
      case MaskPattern::kDots: {
        const float gu = u * 12.0f - std::round(u * 12.0f), gv = v * 12.0f - std::round(v * 12.0f);
        const float dot = Cover((std::sqrt(gu * gu + gv * gv) - 0.28f) / 12.0f, px);
        c = Mix(c, look.accent, dot_detail * dot + (1 - dot_detail) * 0.25f);
        break;
      }
    }
    const float k = u / half_width;
    return Fragment{alpha, Scale(c, 1.0f - 0.18f * k * k)};
  });

  // Ear loops from the mask's corners to the ears.
  const Rgb loop = Scale(look.color, 0.85f);
  const float thick = std::max(0.012f, 0.5f * px), ink = std::min(1.0f, 0.012f / (0.5f * px));
  for (float side : {-1.0f, 1.0f}) {
    const float ear_u = side * (person.face_width + 0.02f);
    const float mask_u = side * person.face_width * 0.9f;
    for (const auto& ends :
         {std::pair{look.top + 0.15f, -0.08f}, std::pair{look.bottom - 0.3f, 0.1f}}) {
      // Plain copies: a lambda may not capture structured bindings in C++17 (clang refuses).
      const float v_mask = ends.first, v_ear = ends.second;
      const float u0 = std::min(ear_u, mask_u) - thick - px,
                  u1 = std::max(ear_u, mask_u) + thick + px;
      const float v0 = std::min(v_ear, v_mask) - thick - px,
                  v1 = std::max(v_ear, v_mask) + thick + px;
      canvas.Paint(u0, v0, u1, v1, [&](float u, float v) {
        const float d = SegmentDistance(u, v, mask_u, v_mask, ear_u, v_ear);
        return Fragment{ink * Cover(d - thick, px), loop};
      });
    }
  }
}

}  // namespace ensweep::datagen
