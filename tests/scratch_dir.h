// Scratch folders and placeholder files shared by the tests.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ensweep::test {

// An empty folder under the system temp directory, unique to this process, `prefix` and `name`
// (emptied first if a previous run left it behind).
inline std::filesystem::path FreshDir(const std::string& prefix, const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    (prefix + "_" + std::to_string(getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// An empty file, with its parent folders: stands in for an image where no pixels are read.
inline void Touch(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "";
}

}  // namespace ensweep::test
