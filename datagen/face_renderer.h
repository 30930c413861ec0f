// Draws one synthetic photo of a person (private to datagen).
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "datagen/person.h"

namespace ensweep::datagen {

// Renders the person with the given mask state (0 worn: the mask covers nose and mouth; 1
// incorrect: the mask sits below the nose; 2 not worn). rng supplies everything that varies from
// photo to photo: position, scale and tilt of the head, mask colour and pattern, lighting, noise.
// Returns height rows of width * 3 RGB bytes. Works for any size from about 16x16 upwards.
std::vector<uint8_t> RenderPhoto(const Person& person, int mask_state, int width, int height,
                                 Rng& rng);

}  // namespace ensweep::datagen
