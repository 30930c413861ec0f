// The run lock: one coordinator per study, found through every path to the store.
#include "orchestrator/run_lock.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The UserError message of taking `study`'s lock in the store at `path`, or "" if it was taken.
std::string Refusal(const fs::path& path, const std::string& study) {
  try {
    RunLock lock(path.string(), study);
    return "";
  } catch (const UserError& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("a held run lock is found through a hard link and a symbolic link in other folders",
          "[orchestrator][run_lock]") {
  const fs::path dir = test::FreshDir("ensweep_run_lock", "links");
  fs::create_directories(dir / "b");
  fs::create_directories(dir / "c");
  const fs::path store = dir / "a" / "store.sqlite";
  const std::string pid = "pid " + std::to_string(::getpid());
  {
    RunLock lock(store.string(), "study");  // creates the store and its folder
    REQUIRE(fs::file_size(store) > 0);      // an ensweep store, not an empty file
    lock.Describe("coordinator at 127.0.0.1:7700");
    fs::create_hard_link(store, dir / "b" / "hard.sqlite");
    fs::create_symlink(store, dir / "c" / "soft.sqlite");
    for (const fs::path& other : {store, dir / "c" / "soft.sqlite"}) {
      const std::string message = Refusal(other, "study");
      INFO(other << ": " << message);
      CHECK_THAT(message, Catch::Contains("study 'study' in " + other.string() +
                                          " is already being run (" + pid + " on "));
      CHECK_THAT(message, Catch::Contains("ensweep worker --connect 127.0.0.1:7700"));
    }
    // Another name of the same file: the lock holds, and its message names the holder's pid.
    const std::string message = Refusal(dir / "b" / "hard.sqlite", "study");
    INFO(message);
    CHECK_THAT(message, Catch::Contains("hard.sqlite is already being run (" + pid +
                                        ", reaching the store by another name)"));
    CHECK(Refusal(dir / "b" / "hard.sqlite", "another study").empty());  // one lock per study
  }
  // Released with the RunLock: any path takes it again.
  CHECK(Refusal(dir / "b" / "hard.sqlite", "study").empty());
  CHECK(Refusal(store, "study").empty());
}

TEST_CASE("a symbolic link planted at the lock file's name is refused and its target untouched",
          "[orchestrator][run_lock]") {
  const fs::path dir = test::FreshDir("ensweep_run_lock", "planted");
  const fs::path target = dir / "precious.txt";
  std::ofstream(target) << "keep me\n";
  const fs::path store = dir / "store.sqlite";
  fs::create_symlink(target, dir / ".store.sqlite.study.lock");
  const std::string message = Refusal(store, "study");
  CHECK_THAT(message,
             Catch::Contains("the run lock file " + (dir / ".store.sqlite.study.lock").string() +
                             " is a symbolic link"));
  CHECK_THAT(message, Catch::Contains("remove it"));
  CHECK(Slurp(target) == "keep me\n");
  // Once removed, the lock is taken and the file says who holds it.
  fs::remove(dir / ".store.sqlite.study.lock");
  RunLock lock(store.string(), "study");
  CHECK_THAT(Slurp(dir / ".store.sqlite.study.lock"),
             Catch::StartsWith("pid " + std::to_string(::getpid()) + " on "));
}
