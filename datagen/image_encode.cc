#include "datagen/image_encode.h"

#include <png.h>
#include <turbojpeg.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace ensweep {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr OpenForWriting(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "wb"));
  if (!file) throw std::runtime_error(path + ": cannot open for writing");
  return file;
}

void CheckSize(const std::string& path, int width, int height) {
  if (width <= 0 || height <= 0) {
    throw std::runtime_error(path + ": image size must be positive, got " + std::to_string(width) +
                             "x" + std::to_string(height));
  }
}

}  // namespace

void WriteJpeg(const std::string& path, const uint8_t* rgb, int width, int height, int quality) {
  CheckSize(path, width, height);
  tjhandle handle = tjInitCompress();
  if (handle == nullptr) throw std::runtime_error(path + ": cannot initialise the JPEG encoder");
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  // The default integer DCT gives the same bytes on every run and every SIMD path.
  const int status = tjCompress2(handle, rgb, width, width * 3, height, TJPF_RGB, &jpeg, &jpeg_size,
                                 TJSAMP_420, quality, 0);
  std::string error = status == 0 ? "" : tjGetErrorStr2(handle);
  tjDestroy(handle);
  if (status != 0) {
    tjFree(jpeg);
    throw std::runtime_error(path + ": JPEG encoding failed: " + error);
  }
  FilePtr file;
  try {
    file = OpenForWriting(path);
  } catch (...) {
    tjFree(jpeg);
    throw;
  }
  const size_t written = std::fwrite(jpeg, 1, jpeg_size, file.get());
  tjFree(jpeg);
  if (written != jpeg_size || std::fflush(file.get()) != 0) {
    throw std::runtime_error(path + ": write failed");
  }
}

void WritePng(const std::string& path, const uint8_t* rgb, int width, int height) {
  CheckSize(path, width, height);
  FilePtr file = OpenForWriting(path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) throw std::runtime_error(path + ": cannot initialise the PNG encoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw std::runtime_error(path + ": cannot initialise the PNG encoder");
  }
  // libpng reports errors by longjmp; nothing with a destructor is created between here and the
  // end of the encoding, so jumping back is safe.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error(path + ": PNG encoding failed");
  }
  png_init_io(png, file.get());
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  // Noisy photos hardly compress; one cheap filter and a fast level keep PNG writing from
  // dominating generation (libpng's adaptive filter search alone costs more than the drawing).
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_set_compression_level(png, 1);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) {
    png_write_row(png, rgb + static_cast<size_t>(y) * width * 3);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  if (std::fflush(file.get()) != 0) throw std::runtime_error(path + ": write failed");
}

}  // namespace ensweep
