// Scratch folders, scratch file paths and placeholder files shared by the tests.
//
// Every path handed out here lies under the system temp directory and is removed when the test
// process exits (ctest runs each test case as its own process), so runs leave nothing behind. Set
// ENSWEEP_KEEP_TEST_DIRS to a non-empty value to keep them for inspecting a failure.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

namespace ensweep::test {

// True if ENSWEEP_KEEP_TEST_DIRS is set and non-empty: scratch paths outlive the process.
inline bool KeepTestDirs() {
  const char* keep = std::getenv("ENSWEEP_KEEP_TEST_DIRS");
  return keep != nullptr && *keep != '\0';
}

// The scratch paths of this process, removed by its destructor at exit. A function-local static
// built on first use, so it outlives any static object that asked for a path while being built.
class ScratchRegistry {
 public:
  static ScratchRegistry& Get() {
    static ScratchRegistry registry;
    return registry;
  }

  void Add(const std::filesystem::path& path) {
    const std::lock_guard<std::mutex> lock(mutex_);
    paths_.insert(path);
  }

  // Only the registering process removes: a forked child that exits normally leaves them alone.
  ~ScratchRegistry() {
    if (getpid() != owner_) return;
    const bool keep = KeepTestDirs();
    for (const std::filesystem::path& path : paths_) {
      std::error_code error;
      if (keep) {
        if (std::filesystem::exists(path, error)) {
          std::fprintf(stderr, "ENSWEEP_KEEP_TEST_DIRS: kept %s\n", path.c_str());
        }
      } else {
        std::filesystem::remove_all(path, error);  // best effort: a leftover is not a failure
      }
    }
  }

  ScratchRegistry(const ScratchRegistry&) = delete;
  ScratchRegistry& operator=(const ScratchRegistry&) = delete;

 private:
  ScratchRegistry() = default;

  const pid_t owner_ = getpid();
  std::mutex mutex_;
  std::set<std::filesystem::path> paths_;
};

// A path under the system temp directory, unique to this process, `prefix` and `name`, removed at
// exit. Nothing is created there; whatever an earlier run left there is removed first. Use it for
// a single file, or for a folder the code under test must create itself.
inline std::filesystem::path ScratchPath(const std::string& prefix, const std::string& name) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     (prefix + "_" + std::to_string(getpid()) + "_" + name);
  ScratchRegistry::Get().Add(path);
  std::filesystem::remove_all(path);
  return path;
}

// An empty folder at ScratchPath(prefix, name), removed at exit (emptied first if an earlier run
// or test case left it behind).
inline std::filesystem::path FreshDir(const std::string& prefix, const std::string& name) {
  const std::filesystem::path dir = ScratchPath(prefix, name);
  std::filesystem::create_directories(dir);
  return dir;
}

// An empty file, with its parent folders: stands in for an image where no pixels are read.
inline void Touch(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "";
}

}  // namespace ensweep::test
