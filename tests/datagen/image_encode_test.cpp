#include "datagen/image_encode.h"

#include <png.h>
#include <turbojpeg.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> TestPattern(int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / (width - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (height - 1));
      p[2] = static_cast<uint8_t>((x + y) * 3);
    }
  }
  return rgb;
}

std::vector<uint8_t> ReadBytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// An empty scratch folder, removed when the test process exits.
struct TempDir {
  fs::path path = ensweep::test::FreshDir("ensweep_encode", "scratch");
};

}  // namespace

TEST_CASE("WritePng writes a PNG that decodes to exactly the same pixels", "[datagen][encode]") {
  TempDir dir;
  const int width = 37, height = 23;
  const auto rgb = TestPattern(width, height);
  const std::string path = (dir.path / "pattern.png").string();
  ensweep::WritePng(path, rgb.data(), width, height);

  const auto bytes = ReadBytes(path);
  REQUIRE(bytes.size() > 8);
  CHECK(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8) ==
        std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, path.c_str()) != 0);
  CHECK(image.width == static_cast<png_uint_32>(width));
  CHECK(image.height == static_cast<png_uint_32>(height));
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> decoded(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, decoded.data(), 0, nullptr) != 0);
  CHECK(decoded == rgb);
}

TEST_CASE("WriteJpeg writes a 4:2:0 JPEG close to the input", "[datagen][encode]") {
  TempDir dir;
  const int width = 64, height = 48;
  const auto rgb = TestPattern(width, height);
  const std::string path = (dir.path / "pattern.jpg").string();
  ensweep::WriteJpeg(path, rgb.data(), width, height, 95);

  auto bytes = ReadBytes(path);
  REQUIRE(bytes.size() > 4);
  CHECK(bytes[0] == 0xFF);
  CHECK(bytes[1] == 0xD8);
  CHECK(bytes[bytes.size() - 2] == 0xFF);
  CHECK(bytes[bytes.size() - 1] == 0xD9);

  tjhandle handle = tjInitDecompress();
  REQUIRE(handle != nullptr);
  int decoded_width = 0, decoded_height = 0, subsampling = -1, colorspace = -1;
  REQUIRE(tjDecompressHeader3(handle, bytes.data(), bytes.size(), &decoded_width, &decoded_height,
                              &subsampling, &colorspace) == 0);
  CHECK(decoded_width == width);
  CHECK(decoded_height == height);
  CHECK(subsampling == TJSAMP_420);
  std::vector<uint8_t> decoded(rgb.size());
  REQUIRE(tjDecompress2(handle, bytes.data(), bytes.size(), decoded.data(), width, 0, height,
                        TJPF_RGB, 0) == 0);
  tjDestroy(handle);
  double error = 0;
  for (size_t i = 0; i < rgb.size(); ++i) error += std::abs(int(decoded[i]) - int(rgb[i]));
  CHECK(error / rgb.size() < 4.0);
}

TEST_CASE("the encoders give the same bytes for the same pixels", "[datagen][encode]") {
  TempDir dir;
  const auto rgb = TestPattern(40, 30);
  ensweep::WriteJpeg((dir.path / "a.jpg").string(), rgb.data(), 40, 30, 90);
  ensweep::WriteJpeg((dir.path / "b.jpg").string(), rgb.data(), 40, 30, 90);
  ensweep::WritePng((dir.path / "a.png").string(), rgb.data(), 40, 30);
  ensweep::WritePng((dir.path / "b.png").string(), rgb.data(), 40, 30);
  CHECK(ReadBytes(dir.path / "a.jpg") == ReadBytes(dir.path / "b.jpg"));
  CHECK(ReadBytes(dir.path / "a.png") == ReadBytes(dir.path / "b.png"));
}

TEST_CASE("the encoders name the path they cannot write", "[datagen][encode]") {
  TempDir dir;
  const auto rgb = TestPattern(16, 16);
  const std::string missing = (dir.path / "no_such_folder" / "x.png").string();
  CHECK_THROWS_WITH(ensweep::WritePng(missing, rgb.data(), 16, 16),
                    Catch::Matchers::Contains(missing));
  const std::string missing_jpeg = (dir.path / "no_such_folder" / "x.jpg").string();
  CHECK_THROWS_WITH(ensweep::WriteJpeg(missing_jpeg, rgb.data(), 16, 16, 90),
                    Catch::Matchers::Contains(missing_jpeg));
}
