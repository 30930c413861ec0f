#include "datagen/image_decode.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
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

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void PutBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

// The CRC-32 PNG chunks carry (ISO 3309, as zlib's crc32).
uint32_t Crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// One PNG chunk: length, type, data, CRC over type and data.
std::string PngChunk(const std::string& type, const std::string& data) {
  std::string chunk;
  PutBigEndian32(chunk, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  chunk += body;
  PutBigEndian32(chunk, Crc32(body));
  return chunk;
}

// The PNG signature and a valid IHDR (8-bit RGB) declaring width x height.
std::string PngHeader(uint32_t width, uint32_t height) {
  std::string ihdr;
  PutBigEndian32(ihdr, width);
  PutBigEndian32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // depth 8, RGB, deflate, filter 0, no interlace
  return std::string("\x89PNG\r\n\x1A\n", 8) + PngChunk("IHDR", ihdr);
}

// The process's peak resident memory so far, in bytes.
int64_t PeakResidentBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// Offset of the first SOF0..SOF2 marker's height field in a JPEG (height, then width, 16-bit
// big-endian each).
size_t SofSizeOffset(const std::string& jpeg) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    const auto b = static_cast<uint8_t>(jpeg[i + 1]);
    if (static_cast<uint8_t>(jpeg[i]) == 0xFF && b >= 0xC0 && b <= 0xC2) return i + 5;
  }
  FAIL("no SOF marker in the JPEG");
  return 0;
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

TEST_CASE("a PNG header declaring 32000x32000 is refused at once, without allocating its pixels",
          "[worker][image]") {
  const fs::path dir = ScratchDir();
  // Only the signature and IHDR (33 bytes); and the same with an empty IDAT and IEND after it, a
  // file that libpng reads past its header and that was decoded into a 4 GB buffer.
  const std::string header_only = PngHeader(32000, 32000);
  const std::string with_data = header_only + PngChunk("IDAT", "") + PngChunk("IEND", "");
  REQUIRE(header_only.size() == 33);
  WriteBytes(dir / "huge_header_only.png", header_only);
  WriteBytes(dir / "huge.png", with_data);
  for (const char* name : {"huge_header_only.png", "huge.png"}) {
    const std::string path = (dir / name).string();
    INFO(path);
    const int64_t peak_before = PeakResidentBytes();
    const auto start = std::chrono::steady_clock::now();
    REQUIRE_THROWS_AS(DecodeImageFile(path), UserError);
    REQUIRE_THROWS_WITH(DecodeImageFile(path), Catch::Contains(path) &&
                                                   Catch::Contains("32000x32000") &&
                                                   Catch::Contains("64000000 pixels"));
    std::vector<uint8_t> out(16 * 16 * 3);
    REQUIRE_THROWS_WITH(DecodeImageFileResized(path, 16, 16, out.data()),
                        Catch::Contains("32000x32000"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
    // 32000 x 32000 x 4 bytes would have raised the peak by about 4 GB.
    CHECK(PeakResidentBytes() - peak_before < int64_t{256} << 20);
  }
}

TEST_CASE("a PNG declaring a zero width is refused naming the file", "[worker][image]") {
  const std::string path = (ScratchDir() / "zero_width.png").string();
  WriteBytes(path, PngHeader(0, 16) + PngChunk("IDAT", "") + PngChunk("IEND", ""));
  REQUIRE_THROWS_AS(DecodeImageFile(path), UserError);
  REQUIRE_THROWS_WITH(DecodeImageFile(path), Catch::Contains(path) && Catch::Contains("0x16") &&
                                                 Catch::Contains("at least 1"));
}

TEST_CASE("ENSWEEP_MAX_IMAGE_PIXELS sets the limit and a bad value names the variable",
          "[worker][image]") {
  const std::vector<uint8_t> rgb = Gradient(16, 8);
  const std::string png = (ScratchDir() / "limit.png").string();
  const std::string jpeg = (ScratchDir() / "limit.jpg").string();
  WritePng(png, rgb.data(), 16, 8);
  WriteJpeg(jpeg, rgb.data(), 16, 8, 90);
  CHECK(MaxImagePixels() == kDefaultMaxImagePixels);
  {
    const ScopedEnv limit("ENSWEEP_MAX_IMAGE_PIXELS", "128");
    CHECK(MaxImagePixels() == 128);
    CHECK(DecodeImageFile(png).pixels == rgb);
    CHECK(DecodeImageFile(jpeg).width == 16);
  }
  {
    const ScopedEnv limit("ENSWEEP_MAX_IMAGE_PIXELS", "127");
    for (const std::string& path : {png, jpeg}) {
      INFO(path);
      REQUIRE_THROWS_WITH(DecodeImageFile(path), Catch::Contains(path) && Catch::Contains("16x8") &&
                                                     Catch::Contains("limit of 127 pixels"));
    }
  }
  for (const char* bad : {"0", "-5", "lots", "1e6", "99999999999999999999"}) {
    INFO(bad);
    const ScopedEnv limit("ENSWEEP_MAX_IMAGE_PIXELS", bad);
    REQUIRE_THROWS_AS(MaxImagePixels(), UserError);
    REQUIRE_THROWS_WITH(DecodeImageFile(png), Catch::Contains("ENSWEEP_MAX_IMAGE_PIXELS"));
  }
}

TEST_CASE(
    "a JPEG whose header was patched larger is refused: huge before decoding, else as "
    "truncated",
    "[worker][image]") {
  const std::vector<uint8_t> rgb = Gradient(64, 48);
  const fs::path dir = ScratchDir();
  WriteJpeg((dir / "small.jpg").string(), rgb.data(), 64, 48, 90);
  const std::string original = ReadBytes(dir / "small.jpg");
  const size_t at = SofSizeOffset(original);
  REQUIRE(static_cast<uint8_t>(original[at]) * 256 + static_cast<uint8_t>(original[at + 1]) == 48);
  const auto patched = [&](int width, int height) {
    std::string bytes = original;
    bytes[at] = static_cast<char>(height >> 8);
    bytes[at + 1] = static_cast<char>(height & 0xFF);
    bytes[at + 2] = static_cast<char>(width >> 8);
    bytes[at + 3] = static_cast<char>(width & 0xFF);
    return bytes;
  };
  // 60000x60000 (3.6 gigapixels; libjpeg itself refuses sides over 65500) is over the limit:
  // refused from the header, nothing allocated.
  const std::string huge = (dir / "patched_huge.jpg").string();
  WriteBytes(huge, patched(60000, 60000));
  const int64_t peak_before = PeakResidentBytes();
  REQUIRE_THROWS_AS(DecodeImageFile(huge), UserError);
  REQUIRE_THROWS_WITH(DecodeImageFile(huge), Catch::Contains(huge) &&
                                                 Catch::Contains("60000x60000") &&
                                                 Catch::Contains("limit"));
  CHECK(PeakResidentBytes() - peak_before < int64_t{256} << 20);
  // 2048x1536 fits the limit: decoded into a buffer of the header's size (no overflow), then
  // refused because the scan ends long before the last row, at full size and scaled.
  const std::string larger = (dir / "patched_larger.jpg").string();
  WriteBytes(larger, patched(2048, 1536));
  REQUIRE_THROWS_AS(DecodeImageFile(larger), UserError);
  REQUIRE_THROWS_WITH(DecodeImageFile(larger), Catch::Contains(larger) &&
                                                   Catch::Contains("premature end") &&
                                                   Catch::Contains("2048x1536"));
  std::vector<uint8_t> out(32 * 24 * 3);
  REQUIRE_THROWS_AS(DecodeImageFileResized(larger, 32, 24, out.data()), UserError);
  // The unpatched file still decodes.
  const RgbImage image = DecodeImageFile((dir / "small.jpg").string());
  CHECK(image.width == 64);
  CHECK(image.height == 48);
  CHECK(MaxAbsDiff(image.pixels, rgb) <= 10);
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
  const std::string huge = (ScratchDir() / "huge_one.png").string();
  WriteBytes(huge, PngHeader(32000, 32000) + PngChunk("IDAT", "") + PngChunk("IEND", ""));
  std::atomic<int> progress_calls{0};
  try {
    ImageCache::Decode({good, missing, good, corrupt, huge}, 4, 4, 2, {},
                       [&](int64_t, int64_t) { ++progress_calls; });
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("3 of 5 images"));
    CHECK_THAT(message, Catch::Contains(missing));
    CHECK_THAT(message, Catch::Contains(corrupt));
    CHECK_THAT(message, Catch::Contains(huge));
  }
  CHECK(progress_calls > 0);
}

}  // namespace ensweep
