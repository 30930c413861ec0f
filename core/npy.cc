#include "core/npy.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "core/error.h"

namespace ensweep {

void WriteNpy(const std::string& path, const Matrix& matrix) {
  if (static_cast<int64_t>(matrix.values.size()) != matrix.rows * matrix.cols) {
    throw std::invalid_argument("WriteNpy: values do not match rows x cols for " + path);
  }
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(matrix.rows) + ", " + std::to_string(matrix.cols) + "), }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + temporary);
    const char magic[] = "\x93NUMPY\x01\x00";
    out.write(magic, 8);
    const uint16_t length = static_cast<uint16_t>(header.size());
    const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
    out.write(length_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(matrix.values.data()),
              static_cast<std::streamsize>(matrix.values.size() * sizeof(float)));
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

Matrix ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open (missing prediction file?)");
  char prefix[10];
  in.read(prefix, 10);
  if (in.gcount() != 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) {
    throw UserError(path + ": not a .npy file");
  }
  const int major = static_cast<unsigned char>(prefix[6]);
  size_t header_length = static_cast<unsigned char>(prefix[8]) |
                         (static_cast<size_t>(static_cast<unsigned char>(prefix[9])) << 8);
  if (major >= 2) {
    char more[2];
    in.read(more, 2);
    header_length |= (static_cast<size_t>(static_cast<unsigned char>(more[0])) << 16) |
                     (static_cast<size_t>(static_cast<unsigned char>(more[1])) << 24);
  }
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));
  if (static_cast<size_t>(in.gcount()) != header_length)
    throw UserError(path + ": truncated header");
  if (header.find("'<f4'") == std::string::npos) {
    throw UserError(path + ": expected float32 ('<f4') values, header is " + header);
  }
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw UserError(path + ": expected C order");
  }
  std::smatch match;
  static const std::regex shape_pattern(R"('shape':\s*\((\d+),\s*(\d+)\s*,?\))");
  if (!std::regex_search(header, match, shape_pattern)) {
    throw UserError(path + ": expected a 2-D array, header is " + header);
  }
  Matrix matrix;
  matrix.rows = std::stoll(match[1]);
  matrix.cols = std::stoll(match[2]);
  matrix.values.resize(static_cast<size_t>(matrix.rows * matrix.cols));
  const std::streamsize bytes = static_cast<std::streamsize>(matrix.values.size() * sizeof(float));
  in.read(reinterpret_cast<char*>(matrix.values.data()), bytes);
  if (in.gcount() != bytes) throw UserError(path + ": truncated data");
  return matrix;
}

}  // namespace ensweep
