// The face mask in a photo: how it looks and where it sits (private to datagen).
#pragma once

#include "core/rng.h"
#include "datagen/canvas.h"
#include "datagen/person.h"

namespace ensweep::datagen {

enum class MaskPattern { kPlain, kPleats, kStripes, kDots };

struct MaskLook {
  Rgb color;
  Rgb accent;  // second colour of a patterned mask
  MaskPattern pattern = MaskPattern::kPlain;
  float top = 0;     // upper edge in face units (the nose ends at about 0.22, the mouth is at 0.45)
  float bottom = 1;  // lower edge; the chin is at 1
};

// Draws a mask for one photo: white, light blue, black, grey, pink or patterned. A worn mask
// (mask_state 0) starts above the nostrils; an incorrect one (1) starts below the nose and covers
// mouth and chin. For mask_state 2 the result is unused but rng advances the same way.
MaskLook SampleMaskLook(int mask_state, Rng& rng);

// Paints the mask and its ear loops over the face; the canvas frame must be the face frame.
void DrawMask(const Person& person, const MaskLook& look, Canvas& canvas);

}  // namespace ensweep::datagen
