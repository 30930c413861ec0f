#include "datagen/face_renderer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "datagen/person.h"

using ensweep::DeriveSeed;
using ensweep::Rng;
using ensweep::datagen::Person;
using ensweep::datagen::RenderPhoto;

namespace {

constexpr int kWidth = 192, kHeight = 256;

// First and last row where two photos differ within a narrow strip down the middle of the frame
// (the face is always there; the ear loops are not). -1 if they never differ.
std::pair<int, int> ChangedRows(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int first = -1, last = -1;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = kWidth / 2 - 4; x <= kWidth / 2 + 4; ++x) {
      const size_t i = (static_cast<size_t>(y) * kWidth + x) * 3;
      if (a[i] != b[i] || a[i + 1] != b[i + 1] || a[i + 2] != b[i + 2]) {
        if (first < 0) first = y;
        last = y;
      }
    }
  }
  return {first, last};
}

Person SomePerson(uint64_t seed) {
  Rng rng(seed);
  int gender = 0, age = 0;
  ensweep::datagen::SampleGenderAndAge(rng, &gender, &age);
  return ensweep::datagen::SamplePerson(gender, age, rng);
}

}  // namespace

TEST_CASE("a worn mask covers the nose and an incorrect one starts below it", "[datagen]") {
  // With the same photo seed the three mask states share position, lighting and noise, so the
  // photos differ exactly where the mask is.
  const double min_face_unit = 0.92 * std::min(kWidth * 0.27, kHeight * 0.2);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Person person = SomePerson(seed);
    std::vector<uint8_t> photos[3];
    for (int state = 0; state < 3; ++state) {
      Rng rng(DeriveSeed(seed, 99));
      photos[state] = RenderPhoto(person, state, kWidth, kHeight, rng);
    }
    const auto worn = ChangedRows(photos[0], photos[2]);
    const auto incorrect = ChangedRows(photos[1], photos[2]);
    INFO("seed " << seed << ": worn rows " << worn.first << ".." << worn.second
                 << ", incorrect rows " << incorrect.first << ".." << incorrect.second);
    REQUIRE(worn.first >= 0);
    REQUIRE(incorrect.first >= 0);
    // The nose tip sits about 0.22 face units below the eyes' line, the mouth at 0.45: the worn
    // mask starts at least a quarter face unit higher than the pulled-down one.
    CHECK(incorrect.first - worn.first > 0.25 * min_face_unit);
    // Both reach down over the chin.
    CHECK(std::abs(incorrect.second - worn.second) < 0.2 * min_face_unit);
  }
}

TEST_CASE("RenderPhoto is a pure function of the person and the photo seed", "[datagen]") {
  const Person person = SomePerson(1);
  Rng a(5), b(5), c(6);
  const auto first = RenderPhoto(person, 0, 64, 96, a);
  CHECK(first.size() == 64u * 96u * 3u);
  CHECK(RenderPhoto(person, 0, 64, 96, b) == first);
  CHECK(RenderPhoto(person, 0, 64, 96, c) != first);
}
