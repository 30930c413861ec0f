#include "worker/image_decode.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "datagen/image_encode.h"
#include "tests/scratch_dir.h"
#include "worker/image_cache.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

// A per-process scratch folder, removed when the test binary exits.
const fs::path& ScratchDir() {
  static const fs::path dir = test::FreshDir("ensweep_image_decode_test", "scratch");
  return dir;
}

// A smooth gradient (JPEG reproduces it closely) with a seed-dependent offset.
std::vector<uint8_t> Gradient(int width, int height, int offset = 0) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>((x * 255 / std::max(1, width - 1) + offset) % 256);
      p[1] = static_cast<uint8_t>(y * 255 / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>(128 + offset / 2);
    }
  }
  return rgb;
}

int MaxAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("a PNG decodes to exactly the pixels written", "[worker][image]") {
  std::vector<uint8_t> rgb(7 * 5 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 37 % 256);
  const std::string path = (ScratchDir() / "exact.png").string();
  WritePng(path, rgb.data(), 7, 5);
  const RgbImage image = DecodeImageFile(path);
  CHECK(image.width == 7);
  CHECK(image.height == 5);
  CHECK(image.pixels == rgb);
}

TEST_CASE("a JPEG decodes to its size and close to the pixels written", "[worker][image]") {
  const std::vector<uint8_t> rgb = Gradient(64, 48);
  const std::string path = (ScratchDir() / "gradient.jpg").string();
  WriteJpeg(path, rgb.data(), 64, 48, 95);
  const RgbImage image = DecodeImageFile(path);
  CHECK(image.width == 64);
  CHECK(image.height == 48);
  CHECK(MaxAbsDiff(image.pixels, rgb) <= 8);
}

TEST_CASE("a large JPEG decoded to a small size matches resizing the original", "[worker][image]") {
  // 384x512 -> 48x64 uses TurboJPEG's 1/8 scaled decode; the result must still be the picture.
  const std::vector<uint8_t> rgb = Gradient(384, 512);
  const std::string path = (ScratchDir() / "large.jpeg").string();
  WriteJpeg(path, rgb.data(), 384, 512, 95);
  std::vector<uint8_t> decoded(48 * 64 * 3), expected(48 * 64 * 3);
  DecodeImageFileResized(path, 48, 64, decoded.data());
  ResizeRgb(rgb.data(), 384, 512, expected.data(), 48, 64);
  CHECK(MaxAbsDiff(decoded, expected) <= 8);
}

TEST_CASE("the format comes from the file's bytes, not its extension", "[worker][image]") {
  const std::vector<uint8_t> rgb = Gradient(16, 8);
  const std::string path = (ScratchDir() / "really_a_png.jpg").string();
  WritePng(path, rgb.data(), 16, 8);
  CHECK(DecodeImageFile(path).pixels == rgb);
}

TEST_CASE("resizing averages areas when shrinking and keeps flat colour when enlarging",
          "[worker][image]") {
  // 4x2 -> 2x1: each output pixel is the mean of a 2x2 block.
  const std::vector<uint8_t> src = {0,  0,  0,  10, 10, 10, 100, 0, 0, 200, 0, 0,
                                    20, 20, 20, 30, 30, 30, 0,   0, 0, 100, 0, 0};
  std::vector<uint8_t> dst(2 * 1 * 3);
  ResizeRgb(src.data(), 4, 2, dst.data(), 2, 1);
  CHECK(dst == std::vector<uint8_t>{15, 15, 15, 100, 0, 0});

  const std::vector<uint8_t> flat(3 * 2 * 3, 77);
  std::vector<uint8_t> big(7 * 5 * 3);
  ResizeRgb(flat.data(), 3, 2, big.data(), 7, 5);
  CHECK(big == std::vector<uint8_t>(big.size(), 77));
}

TEST_CASE("a missing image throws a UserError naming its path", "[worker][image]") {
  const std::string path = (ScratchDir() / "no_such_image.jpg").string();
  REQUIRE_THROWS_AS(DecodeImageFile(path), UserError);
  REQUIRE_THROWS_WITH(DecodeImageFile(path), Catch::Contains(path));
}

TEST_CASE("corrupt images throw a UserError naming their path", "[worker][image]") {
  const fs::path dir = ScratchDir();
  WriteBytes(dir / "text.png", "this is not an image");
  WriteBytes(dir / "bad_header.jpg", std::string("\xFF\xD8\xFF", 3) + "garbage garbage");
  WriteBytes(dir / "bad_body.png", std::string("\x89PNG\r\n\x1A\n", 8) + "garbage");
  const std::vector<uint8_t> rgb = Gradient(64, 64);
  WriteJpeg((dir / "whole.jpg").string(), rgb.data(), 64, 64, 90);
  std::ifstream in(dir / "whole.jpg", std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  WriteBytes(dir / "truncated.jpg", whole.substr(0, whole.size() / 2));

  for (const char* name : {"text.png", "bad_header.jpg", "bad_body.png", "truncated.jpg"}) {
    const std::string path = (dir / name).string();
    INFO(path);
    REQUIRE_THROWS_AS(DecodeImageFile(path), UserError);
    REQUIRE_THROWS_WITH(DecodeImageFile(path), Catch::Contains(path));
  }
}

TEST_CASE("the image cache holds every image resized, in listing order", "[worker][image]") {
  std::vector<std::string> paths;
  std::vector<std::vector<uint8_t>> originals;
  for (int i = 0; i < 9; ++i) {
    originals.push_back(Gradient(20, 10, i * 20));
    paths.push_back((ScratchDir() / ("cache_" + std::to_string(i) + ".png")).string());
    WritePng(paths.back(), originals.back().data(), 20, 10);
  }
  const ImageCache cache = ImageCache::Decode(paths, 10, 5, 3);
  REQUIRE(cache.size() == 9);
  CHECK(cache.width() == 10);
  CHECK(cache.height() == 5);
  for (int i = 0; i < 9; ++i) {
    std::vector<uint8_t> expected(10 * 5 * 3);
    ResizeRgb(originals[i].data(), 20, 10, expected.data(), 10, 5);
    CHECK(std::vector<uint8_t>(cache.image(i), cache.image(i) + cache.image_bytes()) == expected);
  }
}

TEST_CASE("the image cache reports every unreadable image at once", "[worker][image]") {
  const std::vector<uint8_t> rgb = Gradient(8, 8);
  const std::string good = (ScratchDir() / "good.png").string();
  WritePng(good, rgb.data(), 8, 8);
  const std::string missing = (ScratchDir() / "missing_one.png").string();
  const std::string corrupt = (ScratchDir() / "corrupt_one.jpg").string();
  WriteBytes(corrupt, "nope");
  std::atomic<int> progress_calls{0};
  try {
    ImageCache::Decode({good, missing, good, corrupt}, 4, 4, 2, {},
                       [&](int64_t, int64_t) { ++progress_calls; });
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("2 of 4 images"));
    CHECK_THAT(message, Catch::Contains(missing));
    CHECK_THAT(message, Catch::Contains(corrupt));
  }
  CHECK(progress_calls > 0);
}

}  // namespace ensweep
