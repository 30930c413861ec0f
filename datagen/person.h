// One synthetic person: the traits that stay the same across their 7 photos (private to datagen).
#pragma once

#include <algorithm>

#include "core/rng.h"
#include "datagen/canvas.h"

namespace ensweep::datagen {

struct Person {
  int gender = 0;  // 0 male, 1 female
  int age = 18;    // years

  // Setting.
  Rgb background;      // wall colour
  float gradient = 0;  // strength of the lighting gradient across the background
  float gradient_angle = 0;
  Rgb clothes;

  // Face and skin, in face units (the face ellipse is face_width x 1).
  float face_width = 0.78f;
  float jaw = 0;  // > 0 squarer jaw
  Rgb skin;       // already desaturated for age
  Rgb lips;
  float eye_gap = 0.3f;  // half the distance between the eyes
  float eye_size = 1.0f;
  Rgb iris;
  float brow_thickness = 0.03f;
  float brow_arch = 0.03f;

  // Hair. Long hair falls beside the face down to hair_length (face units below the centre).
  Rgb hair;                  // base colour, before greying
  float grey = 0;            // 0..1 fraction of grey strands, grows with age
  float hair_length = 0;     // <= 0 short hair that leaves the ears free
  float hair_volume = 0.1f;  // how far the hair stands out from the head
  float hairline = -0.6f;    // height of the hairline at the middle of the forehead
  float part = 0;            // slope of the hairline (side parting)
  bool bangs = false;

  // Age cues, 0..1: forehead lines, crow's feet, folds beside the mouth.
  float wrinkles = 0;
};

// The face outline in face units: an ellipse whose lower half turns squarer with the jaw.
inline float FaceOutlineSdf(const Person& p, float u, float v) {
  const float round = EllipseSdf(u, v, p.face_width, 1.0f);
  if (v <= 0) return round;
  const float square = p.jaw * std::min(1.0f, v * 2.0f);
  return round + square * (SquircleSdf(u, v, p.face_width, 1.0f) - round);
}

// Draws gender (about 60 % female) and age (about 47 % < 30, 45 % 30-59, 8 % >= 60) from rng.
void SampleGenderAndAge(Rng& rng, int* gender, int* age);

// Draws the rest of a person's traits for the given gender and age. Age changes the traits
// continuously (greying, wrinkles, duller skin) so that neighbouring ages look alike.
Person SamplePerson(int gender, int age, Rng& rng);

}  // namespace ensweep::datagen
