#include "core/artifact_lock.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

// flock locks belong to open file descriptions, so two locks taken in one process behave as
// two processes' would.
TEST_CASE("a reader's shared lock keeps the deleter out until it is released",
          "[core][artifact_lock]") {
  const fs::path dir = test::FreshDir("ensweep_artifact_lock_test", "shared");
  {
    const ArtifactLock reader = ArtifactLock::Shared(dir.string());
    CHECK(reader.held());
    CHECK(fs::exists(dir / ArtifactLock::kFileName));
    const ArtifactLock second_reader = ArtifactLock::Shared(dir.string());  // readers share
    CHECK(second_reader.held());
    CHECK_FALSE(ArtifactLock::TryExclusive(dir.string()).has_value());
  }
  std::optional<ArtifactLock> deleter = ArtifactLock::TryExclusive(dir.string());
  REQUIRE(deleter.has_value());
  CHECK(deleter->held());
  CHECK_FALSE(ArtifactLock::TryExclusive(dir.string()).has_value());  // one deleter at a time
  deleter.reset();
  CHECK(ArtifactLock::TryExclusive(dir.string()).has_value());
}

TEST_CASE("a moved lock is held once and released once", "[core][artifact_lock]") {
  const fs::path dir = test::FreshDir("ensweep_artifact_lock_test", "moved");
  ArtifactLock first = ArtifactLock::Shared(dir.string());
  ArtifactLock second = std::move(first);
  CHECK_FALSE(first.held());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(second.held());
  CHECK_FALSE(ArtifactLock::TryExclusive(dir.string()).has_value());
  second = ArtifactLock::Shared((dir / "missing").string());  // releases the first lock
  CHECK_FALSE(second.held());
  CHECK(ArtifactLock::TryExclusive(dir.string()).has_value());
}

TEST_CASE("a missing artifact folder gives a reader a lock that holds nothing",
          "[core][artifact_lock]") {
  const fs::path dir = test::FreshDir("ensweep_artifact_lock_test", "missing");
  const ArtifactLock reader = ArtifactLock::Shared((dir / "not-there").string());
  CHECK_FALSE(reader.held());
  CHECK_FALSE(fs::exists(dir / "not-there"));
}
