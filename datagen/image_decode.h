// Decoding JPEG and PNG files to 8-bit RGB at a fixed size, the form in which the worker keeps
// every image in memory; torch-free, so that the audit's data profile (audit/data_profile.h) reads
// images exactly as training does.
//
// The format comes from the file's first bytes, not its extension: competition data mixes .jpg,
// .jpeg and .png, and a renamed file is common. JPEGs use TurboJPEG's scaled decoding (the smallest
// DCT scaling factor whose output still covers the target), so a 384x512 photo fed to a 96x128
// model never materialises at full size; the remaining resize is an area average when shrinking
// (no aliasing) and bilinear when enlarging, per axis. PNG alpha is dropped, not composited, as
// PIL's convert("RGB") does, so pixels match the usual Python pipeline.
//
// Dimensions are checked from the header before any pixel buffer is allocated: a width or height
// of 0, or more than MaxImagePixels() pixels in all (64 megapixels unless the environment variable
// ENSWEEP_MAX_IMAGE_PIXELS says otherwise), is refused, whatever size the image would be decoded
// at. The pixel buffer is sized from the header and the decoders write no more than that, so a
// header that declares more pixels than the file holds cannot overflow it; such a file is refused
// too: a PNG whose image data ends early fails in libpng, and a JPEG whose scan ends before the
// header's last row (libjpeg's "Premature end of JPEG file" or "premature end of data segment"
// warnings: a truncated file, or a patched SOF) fails like PIL's "image file is truncated". Other
// libjpeg warnings (say, extraneous bytes between markers) leave every pixel decoded and the image
// is kept, as PIL keeps it.
//
// Thread-safe: every call uses its own decoder state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ensweep {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height rows of width * 3 bytes, RGB
};

// The most pixels (width x height) an image may declare: ENSWEEP_MAX_IMAGE_PIXELS if set (a whole
// number >= 1), else kDefaultMaxImagePixels. Read on every call. Throws UserError naming the
// variable if it is set to anything else.
constexpr int64_t kDefaultMaxImagePixels = int64_t{64} * 1000 * 1000;
int64_t MaxImagePixels();

// Decodes `path` at its own size. Throws UserError naming the path if the file is missing,
// unreadable, neither JPEG nor PNG, corrupt (including a truncated JPEG), or declares a width or
// height of 0 or more than MaxImagePixels() pixels (the message gives the declared size and the
// limit).
RgbImage DecodeImageFile(const std::string& path);

// DecodeImageFile on a file's bytes already in memory; `path` only names the file in messages.
RgbImage DecodeImageBytes(const std::vector<uint8_t>& bytes, const std::string& path);

// Decodes `path` and resizes it to exactly width x height (both > 0) into `out`, which must hold
// width * height * 3 bytes. Throws like DecodeImageFile.
void DecodeImageFileResized(const std::string& path, int width, int height, uint8_t* out);

// Resizes RGB pixels: per axis an area average when shrinking, bilinear (half-pixel centres, as
// OpenCV and torch's align_corners=false) when enlarging; a copy when the sizes are equal.
void ResizeRgb(const uint8_t* src, int src_width, int src_height, uint8_t* dst, int dst_width,
               int dst_height);

}  // namespace ensweep
