#include "datagen/person.h"

#include <algorithm>
#include <cmath>

namespace ensweep::datagen {
namespace {

Rgb Pick(Rng& rng, std::initializer_list<Rgb> palette, float jitter) {
  const Rgb base = *(palette.begin() + rng.Below(palette.size()));
  const auto wobble = [&](float c) {
    return std::clamp(c + static_cast<float>(rng.Uniform(-jitter, jitter)), 0.0f, 255.0f);
  };
  return {wobble(base.r), wobble(base.g), wobble(base.b)};
}

float Uniform(Rng& rng, double low, double high) {
  return static_cast<float>(rng.Uniform(low, high));
}

}  // namespace

void SampleGenderAndAge(Rng& rng, int* gender, int* age) {
  *gender = rng.Uniform() < 0.6 ? 1 : 0;
  const double band = rng.Uniform();
  const double u = rng.Uniform();
  if (band < 0.47) {
    *age = 18 + static_cast<int>(12 * u);
  } else if (band < 0.92) {
    // Skewed towards the fifties, as in the competition, so that the 59/60 boundary is crowded.
    *age = 30 + static_cast<int>(30 * std::pow(u, 0.7));
  } else {
    *age = 60 + static_cast<int>(16 * u * u);
  }
}

Person SamplePerson(int gender, int age, Rng& rng) {
  const bool female = gender == 1;
  // 0 at 20, 1 at 75: the one knob every age cue follows, so that age is continuous.
  const float aging = std::clamp((age - 20) / 55.0f, 0.0f, 1.0f);
  Person p;
  p.gender = gender;
  p.age = age;

  p.background = Pick(rng,
                      {{226, 222, 214},
                       {200, 200, 198},
                       {214, 200, 180},
                       {182, 200, 216},
                       {194, 210, 190},
                       {160, 150, 140},
                       {236, 232, 224},
                       {122, 126, 132}},
                      12);
  p.gradient = Uniform(rng, 0.04, 0.25);
  p.gradient_angle = Uniform(rng, 0, 6.2832);
  p.clothes = Pick(rng,
                   {{28, 28, 32},
                    {36, 44, 80},
                    {232, 232, 228},
                    {120, 122, 128},
                    {150, 40, 44},
                    {60, 96, 64},
                    {200, 184, 150},
                    {96, 66, 48}},
                   15);

  p.face_width = female ? Uniform(rng, 0.71, 0.80) : Uniform(rng, 0.75, 0.86);
  p.jaw = female ? Uniform(rng, 0.0, 0.2) : Uniform(rng, 0.1, 0.4);
  const Rgb light{240, 208, 184}, dark{176, 126, 94};
  p.skin = Desaturate(Mix(light, dark, Uniform(rng, 0, 0.85)), 0.3f * aging);
  const Rgb lip_colour = female ? Rgb{192, 72, 84} : Rgb{172, 94, 88};
  const float lip_mix = female ? Uniform(rng, 0.45, 0.75) : Uniform(rng, 0.25, 0.45);
  p.lips = Mix(p.skin, lip_colour, lip_mix * (1.0f - 0.3f * aging));
  p.eye_gap = Uniform(rng, 0.27, 0.33);
  p.eye_size = Uniform(rng, 0.85, 1.15);
  p.iris = Pick(rng, {{52, 34, 22}, {38, 28, 22}, {70, 46, 28}}, 8);
  p.brow_thickness = female ? Uniform(rng, 0.018, 0.03) : Uniform(rng, 0.028, 0.045);
  p.brow_arch = female ? Uniform(rng, 0.025, 0.05) : Uniform(rng, 0.0, 0.03);

  p.hair = female ? Pick(rng, {{24, 22, 22}, {46, 32, 26}, {72, 50, 36}, {118, 80, 52}}, 8)
                  : Pick(rng, {{24, 22, 22}, {24, 22, 22}, {46, 32, 26}, {72, 50, 36}}, 8);
  // Some people grey early and some hardly at all, so grey hair hints at age without giving it
  // away.
  const float greying = std::clamp((age - 35) / 45.0f, 0.0f, 1.0f);
  p.grey = std::clamp(std::pow(greying, 1.5f) * Uniform(rng, 0.3, 1.3), 0.0f, 0.9f);
  if (female) {
    // Mostly long hair, some short bobs: the gender cue is strong but not perfect.
    p.hair_length = rng.Uniform() < 0.8 ? Uniform(rng, 0.9, 2.3) : Uniform(rng, 0.15, 0.7);
  } else {
    p.hair_length = rng.Uniform() < 0.85 ? -1.0f : Uniform(rng, 0.1, 0.6);
  }
  p.hair_volume = female ? Uniform(rng, 0.08, 0.2) : Uniform(rng, 0.04, 0.14);
  p.hairline = Uniform(rng, -0.68, -0.58);
  if (!female && rng.Uniform() < 0.5) p.hairline -= aging * Uniform(rng, 0.0, 0.25);
  p.part = Uniform(rng, -0.15, 0.15);
  p.bangs = rng.Uniform() < (female ? 0.2 : 0.08);

  p.wrinkles = std::clamp(
      std::pow(std::clamp((age - 22) / 50.0f, 0.0f, 1.0f), 1.2f) * Uniform(rng, 0.7, 1.3), 0.0f,
      1.0f);
  return p;
}

}  // namespace ensweep::datagen
