// Reading and writing 2-D float32 arrays in NumPy's .npy format (version 1.0, C order), the
// format of stored class probabilities: numpy.load reads them as (rows, cols) float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ensweep {

struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // row-major, rows * cols
  float at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * cols + c)]; }
};

// Writes atomically (temporary file + rename). Throws std::runtime_error on I/O failure.
void WriteNpy(const std::string& path, const Matrix& matrix);

// Throws UserError naming the file if it is missing, truncated or not a 2-D float32 C-order array.
Matrix ReadNpy(const std::string& path);

}  // namespace ensweep
