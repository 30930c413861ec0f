// Encoding 8-bit RGB images to files, deterministically (same pixels, same bytes).
#pragma once

#include <cstdint>
#include <string>

namespace ensweep {

// rgb: height rows of width * 3 bytes. Throws std::runtime_error naming the path on failure.
void WriteJpeg(const std::string& path, const uint8_t* rgb, int width, int height, int quality);
void WritePng(const std::string& path, const uint8_t* rgb, int width, int height);

}  // namespace ensweep
