#include "core/npy.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

TEST_CASE("a matrix written as .npy reads back identically with a 64-byte aligned header",
          "[core][npy]") {
  const std::string path = test::ScratchPath("ensweep_npy", "matrix.npy").string();
  Matrix m;
  m.rows = 3;
  m.cols = 18;
  for (int i = 0; i < 54; ++i) m.values.push_back(0.5f * static_cast<float>(i));
  WriteNpy(path, m);
  const Matrix back = ReadNpy(path);
  CHECK(back.rows == 3);
  CHECK(back.cols == 18);
  CHECK(back.values == m.values);
  CHECK((fs::file_size(path) - 54 * 4) % 64 == 0);
}

TEST_CASE("a truncated .npy is a user error naming the file", "[core][npy]") {
  const std::string path = test::ScratchPath("ensweep_npy", "truncated.npy").string();
  std::ofstream(path) << "\x93NUMPY";
  try {
    ReadNpy(path);
    FAIL("expected an error");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
}
