#include "datagen/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"

namespace ensweep {
namespace {

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    throw UserError("cannot open image " + path + ": " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  if (std::ferror(file.get())) throw UserError("cannot read image " + path);
  return bytes;
}

bool IsJpeg(const std::vector<uint8_t>& b) {
  return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

bool IsPng(const std::vector<uint8_t>& b) {
  static const uint8_t kMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), kMagic, 8) == 0;
}

// Refuses a declared size before anything of that size is allocated.
void CheckDeclaredSize(const char* kind, const std::string& path, int64_t width, int64_t height) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width < 1 || height < 1) {
    throw UserError(std::string(kind) + " image " + path + ": its header declares " + size +
                    " pixels; expected a width and height of at least 1");
  }
  const int64_t limit = MaxImagePixels();
  // Both are below 2^32, so the product cannot overflow.
  if (width * height > limit) {
    throw UserError(std::string(kind) + " image " + path + ": its header declares " + size +
                    " pixels, more than the limit of " + std::to_string(limit) +
                    " pixels in all (ENSWEEP_MAX_IMAGE_PIXELS raises it)");
  }
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool ContainsNoCase(std::string text, const std::string& lower_needle) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.find(lower_needle) != std::string::npos;
}

struct TjHandleCloser {
  void operator()(void* handle) const { tjDestroy(handle); }
};

// Decodes with the smallest DCT scaling factor (<= 1) whose output still covers target_width x
// target_height; 0 targets mean full size. Factors above 1 are not used: upscaling in the DCT
// domain costs more than the bilinear resize that follows and gains nothing.
RgbImage DecodeJpeg(const std::vector<uint8_t>& bytes, const std::string& path, int target_width,
                    int target_height) {
  std::unique_ptr<void, TjHandleCloser> handle(tjInitDecompress());
  if (!handle) throw std::runtime_error("cannot create a JPEG decoder");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), bytes.data(), static_cast<unsigned long>(bytes.size()),
                          &width, &height, &subsampling, &colorspace) != 0) {
    throw UserError("corrupt JPEG image " + path + ": " + tjGetErrorStr2(handle.get()));
  }
  CheckDeclaredSize("JPEG", path, width, height);
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  tjscalingfactor best = {1, 1};
  const bool full_size = target_width <= 0 || target_height <= 0;
  for (int i = 0; !full_size && factors != nullptr && i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom) continue;
    const int w = TJSCALED(width, f), h = TJSCALED(height, f);
    if (w < target_width || h < target_height) continue;
    if (static_cast<int64_t>(w) * h <
        static_cast<int64_t>(TJSCALED(width, best)) * TJSCALED(height, best)) {
      best = f;
    }
  }
  RgbImage image;
  image.width = TJSCALED(width, best);
  image.height = TJSCALED(height, best);
  image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
  if (tjDecompress2(handle.get(), bytes.data(), static_cast<unsigned long>(bytes.size()),
                    image.pixels.data(), image.width, 0, image.height, TJPF_RGB, 0) != 0) {
    const std::string message = tjGetErrorStr2(handle.get());
    // Warnings (say, extraneous bytes between markers) leave a usable image and PIL accepts them
    // too. A scan that ends before the header's last row does not: libjpeg fills the rest with
    // grey and warns "Premature end of JPEG file" (the file ends) or "Corrupt JPEG data: premature
    // end of data segment" (an end marker comes first, as when the header's size was patched
    // larger). Such a file fails like PIL's "image file is truncated". libjpeg's wording of these
    // warnings has been stable for decades.
    if (tjGetErrorCode(handle.get()) == TJERR_FATAL) {
      throw UserError("corrupt JPEG image " + path + ": " + message);
    }
    if (ContainsNoCase(message, "premature end")) {
      throw UserError("corrupt JPEG image " + path + ": " + message + " (the header declares " +
                      std::to_string(width) + "x" + std::to_string(height) +
                      " pixels; the file holds fewer)");
    }
  }
  return image;
}

RgbImage DecodePng(const std::vector<uint8_t>& bytes, const std::string& path) {
  // The first chunk must be IHDR (signature, length, "IHDR", width, height, ...): its size is
  // checked here, before libpng reads on, so that a file that is nothing but a header declaring a
  // huge image is refused for its size.
  if (bytes.size() >= 24 && std::memcmp(&bytes[12], "IHDR", 4) == 0) {
    CheckDeclaredSize("PNG", path, BigEndian32(&bytes[16]), BigEndian32(&bytes[20]));
  }
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    throw UserError("corrupt PNG image " + path + ": " + png.message);
  }
  try {
    CheckDeclaredSize("PNG", path, png.width, png.height);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  // Read as RGBA and drop alpha afterwards: the simplified API would otherwise composite onto a
  // background, which PIL's convert("RGB") does not do.
  png.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    throw UserError("corrupt PNG image " + path + ": " + message);
  }
  RgbImage image;
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  const size_t pixels = static_cast<size_t>(image.width) * image.height;
  image.pixels.resize(pixels * 3);
  for (size_t i = 0; i < pixels; ++i) {
    std::memcpy(&image.pixels[i * 3], &rgba[i * 4], 3);
  }
  return image;
}

RgbImage Decode(const std::vector<uint8_t>& bytes, const std::string& path, int target_width,
                int target_height) {
  if (IsJpeg(bytes)) return DecodeJpeg(bytes, path, target_width, target_height);
  if (IsPng(bytes)) return DecodePng(bytes, path);
  throw UserError("not a JPEG or PNG image (by its first bytes): " + path);
}

// One output coordinate's contributions along one axis.
struct Tap {
  int index;
  float weight;
};

std::vector<std::vector<Tap>> AxisTaps(int src, int dst) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(dst));
  const double scale = static_cast<double>(src) / dst;
  for (int o = 0; o < dst; ++o) {
    std::vector<Tap>& out = taps[static_cast<size_t>(o)];
    if (scale >= 1.0) {
      // Area: the output pixel covers [lo, hi) of the source, partial pixels weighted by overlap.
      const double lo = o * scale, hi = std::min<double>((o + 1) * scale, src);
      for (int i = static_cast<int>(std::floor(lo)); i < hi; ++i) {
        const double overlap = std::min<double>(hi, i + 1) - std::max<double>(lo, i);
        if (overlap > 1e-9) out.push_back({i, static_cast<float>(overlap / scale)});
      }
    } else {
      const double centre = std::max(0.0, (o + 0.5) * scale - 0.5);
      const int i0 = std::min(static_cast<int>(centre), src - 1);
      const int i1 = std::min(i0 + 1, src - 1);
      const float frac = static_cast<float>(centre - i0);
      out.push_back({i0, 1.0f - frac});
      if (frac > 0) out.push_back({i1, frac});
    }
  }
  return taps;
}

}  // namespace

int64_t MaxImagePixels() {
  const char* text = std::getenv("ENSWEEP_MAX_IMAGE_PIXELS");
  if (text == nullptr || *text == '\0') return kDefaultMaxImagePixels;
  const std::string value = text;
  if (value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t pixels = std::stoll(value);
    if (pixels >= 1) return pixels;
  }
  throw UserError("ENSWEEP_MAX_IMAGE_PIXELS: expected a whole number of pixels >= 1 (default " +
                  std::to_string(kDefaultMaxImagePixels) + "), got '" + value + "'");
}

void ResizeRgb(const uint8_t* src, int src_width, int src_height, uint8_t* dst, int dst_width,
               int dst_height) {
  if (src_width == dst_width && src_height == dst_height) {
    std::memcpy(dst, src, static_cast<size_t>(src_width) * src_height * 3);
    return;
  }
  const auto x_taps = AxisTaps(src_width, dst_width);
  const auto y_taps = AxisTaps(src_height, dst_height);
  // Separable: rows first into floats, then columns; rounding happens once, at the end.
  const size_t row_len = static_cast<size_t>(dst_width) * 3;
  std::vector<float> rows(static_cast<size_t>(src_height) * row_len);
  for (int y = 0; y < src_height; ++y) {
    const uint8_t* in = src + static_cast<size_t>(y) * src_width * 3;
    float* out = &rows[static_cast<size_t>(y) * row_len];
    for (int x = 0; x < dst_width; ++x) {
      float r = 0, g = 0, b = 0;
      for (const Tap& t : x_taps[static_cast<size_t>(x)]) {
        const uint8_t* p = in + static_cast<size_t>(t.index) * 3;
        r += t.weight * p[0];
        g += t.weight * p[1];
        b += t.weight * p[2];
      }
      out[x * 3] = r;
      out[x * 3 + 1] = g;
      out[x * 3 + 2] = b;
    }
  }
  std::vector<float> acc(row_len);
  for (int y = 0; y < dst_height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (const Tap& t : y_taps[static_cast<size_t>(y)]) {
      const float* in = &rows[static_cast<size_t>(t.index) * row_len];
      for (size_t i = 0; i < row_len; ++i) acc[i] += t.weight * in[i];
    }
    uint8_t* out = dst + static_cast<size_t>(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) {
      out[i] = static_cast<uint8_t>(std::clamp(acc[i] + 0.5f, 0.0f, 255.0f));
    }
  }
}

RgbImage DecodeImageFile(const std::string& path) {
  return Decode(ReadFileBytes(path), path, 0, 0);
}

RgbImage DecodeImageBytes(const std::vector<uint8_t>& bytes, const std::string& path) {
  return Decode(bytes, path, 0, 0);
}

void DecodeImageFileResized(const std::string& path, int width, int height, uint8_t* out) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("image size must be positive, got " + std::to_string(width) + "x" +
                                std::to_string(height));
  }
  const RgbImage image = Decode(ReadFileBytes(path), path, width, height);
  ResizeRgb(image.pixels.data(), image.width, image.height, out, width, height);
}

}  // namespace ensweep
