// The store never loses a write silently: a failed write or commit is a StoreError naming the file
// and what happened, and the batch it belonged to is rolled back; an empty file is refused rather
// than started anew; a file removed, replaced or truncated under the writer is noticed; another
// process's lock is waited for, and reported.
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

fs::path FreshDir(const std::string& name) { return test::FreshDir("ensweep_durability", name); }

StudySpec Spec() {
  StudySpec spec;
  spec.name = "s";
  spec.data.train = "/data/train";
  return spec;
}

// Parameters of about `bytes` bytes: a few trials fill a page.
Json BigParams(int bytes) { return Json{{"note", std::string(bytes, 'x')}}; }

// A tmpfs of `size` mounted at a folder while it lives (root only); mounted() is false where that
// is not possible.
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, const std::string& size) : dir_(dir) {
    const std::string options = "size=" + size;
    mounted_ = ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool Grow(const std::string& size) {
    const std::string options = "size=" + size;
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, options.c_str()) == 0;
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("a write past the store's page limit is a StoreError and its batch is rolled back",
          "[core][store][durability]") {
  const std::string path = (FreshDir("max_pages") / "store.sqlite").string();
  int64_t study = 0;
  {
    auto store = Store::OpenForWriting(path);
    study = store->CreateOrUpdateStudy(Spec());
    store->AddTrial(study, 0, TrialState::kQueued, BigParams(100), 1);
  }
  StoreOptions options;
  options.max_pages = static_cast<int64_t>(fs::file_size(path) / 4096) + 2;
  auto store = Store::OpenForWriting(path, options);
  auto reader = Store::OpenReadOnly(path);
  int written = 0;
  try {
    Store::Batch batch(*store);
    for (int number = 1; number < 100; ++number) {
      store->AddTrial(study, number, TrialState::kQueued, BigParams(2000), number);
      ++written;
    }
    batch.Commit();
    FAIL("100 trials of 2 kB fit in 2 pages");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::kFull);
    CHECK_THAT(e.what(), Catch::Contains("the disk holding the store " + path + " is full"));
    CHECK_THAT(e.what(), Catch::Contains("free space"));
  }
  CHECK(written > 0);                        // some writes of the batch went in before the one
  CHECK(reader->Trials(study).size() == 1);  // that failed, and none of them is stored
  // Outside a batch, a write's own transaction fails the same way, and the store stays usable.
  CHECK_THROWS_AS(store->AddTrial(study, 1, TrialState::kQueued, BigParams(20000), 1), StoreError);
  store->MarkStale(reader->Trials(study)[0].id, "small write");
  CHECK(reader->Trials(study)[0].state == TrialState::kStale);
}

TEST_CASE("a commit that fails on a full disk is a StoreError and the batch is not stored",
          "[core][store][durability]") {
  const fs::path dir = FreshDir("full_disk");
  SmallDisk disk(dir, "256k");
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs here (needs root); the page-limit test covers the write path");
    return;
  }
  const std::string path = (dir / "store.sqlite").string();
  auto store = Store::OpenForWriting(path);
  const int64_t study = store->CreateOrUpdateStudy(Spec());
  auto reader = Store::OpenReadOnly(path);
  bool commit_failed = false;
  try {
    Store::Batch batch(*store);
    // Small enough to stay in SQLite's page cache: the disk is written at the commit.
    for (int number = 0; number < 60; ++number) {
      store->AddTrial(study, number, TrialState::kQueued, BigParams(4000), number);
    }
    commit_failed = true;
    batch.Commit();
    commit_failed = false;
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::kFull);
    CHECK_THAT(e.what(), Catch::Contains("is full"));
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
  CHECK(commit_failed);
  CHECK(reader->Trials(study).empty());
  // With room again, the same store goes on.
  REQUIRE(disk.Grow("8m"));
  {
    Store::Batch batch(*store);
    store->AddTrial(study, 0, TrialState::kQueued, BigParams(4000), 0);
    batch.Commit();
  }
  CHECK(reader->Trials(study).size() == 1);
}

TEST_CASE("an empty file at the store's path is refused, not started anew",
          "[core][store][durability]") {
  const fs::path path = FreshDir("empty") / "store.sqlite";
  std::ofstream(path) << "";
  try {
    Store::OpenForWriting(path.string());
    FAIL("an empty store was opened");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains(path.string() + ": the file is empty"));
    CHECK_THAT(e.what(), Catch::Contains("remove the file"));
  }
  CHECK(fs::file_size(path) == 0);
}

TEST_CASE("a store removed, replaced or truncated under its writer is noticed",
          "[core][store][durability]") {
  const fs::path dir = FreshDir("moved");
  const fs::path path = dir / "store.sqlite";
  const auto check_moved = [](Store& store, const std::string& what) {
    try {
      store.CheckFile();
      FAIL("not noticed: " << what);
    } catch (const StoreError& e) {
      CHECK(e.kind() == StoreError::Kind::kMoved);
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  SECTION("removed") {
    auto store = Store::OpenForWriting(path.string());
    store->CheckFile();  // untouched: nothing to say
    fs::remove(path);
    check_moved(*store, "was deleted");
    // A commit into the removed file is not taken for stored.
    Store::Batch batch(*store);
    store->CreateOrUpdateStudy(Spec());
    CHECK_THROWS_AS(batch.Commit(), StoreError);
  }
  SECTION("replaced") {
    auto store = Store::OpenForWriting(path.string());
    Store::OpenForWriting((dir / "other.sqlite").string()).reset();
    fs::rename(dir / "other.sqlite", path);
    check_moved(*store, "was replaced by another file");
  }
  SECTION("renamed away") {
    auto store = Store::OpenForWriting(path.string());
    fs::rename(path, dir / "elsewhere.sqlite");
    check_moved(*store, "was renamed or moved away");
  }
  SECTION("truncated") {
    auto store = Store::OpenForWriting(path.string());
    fs::resize_file(path, 0);
    check_moved(*store, "was truncated to 0 bytes");
  }
}

TEST_CASE("another connection's lock is waited for, reported once, and can be given up",
          "[core][store][durability]") {
  const std::string path = (FreshDir("locked") / "store.sqlite").string();
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(50);
  auto store = Store::OpenForWriting(path, options);
  auto holder = Store::OpenForWriting(path);
  const int64_t study = store->CreateOrUpdateStudy(Spec());
  int calls = 0, first_calls = 0;
  std::chrono::milliseconds first_wait{0};
  store->SetLockWait([&](std::chrono::milliseconds waited, bool first) {
    ++calls;
    if (first) {
      ++first_calls;
      first_wait = waited;
    }
    return true;
  });
  {
    std::thread other([&] {
      Store::Batch hold(*holder);  // BEGIN IMMEDIATE: the write lock, for 600 ms
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      hold.Commit();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto started = std::chrono::steady_clock::now();
    store->AddTrial(study, 0, TrialState::kQueued, Json::object(), 0);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
    other.join();
  }
  CHECK(first_calls == 1);
  CHECK(calls > 1);
  CHECK(first_wait >= std::chrono::milliseconds(50));
  // A wait given up (a stop request) is a StoreError saying who holds the store.
  store->SetLockWait([](std::chrono::milliseconds, bool) { return false; });
  Store::Batch hold(*holder);
  try {
    Store::Batch batch(*store);
    FAIL("the lock was taken twice");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::kLocked);
    CHECK_THAT(e.what(), Catch::Contains("is locked by another process"));
  }
}

TEST_CASE("opening a store of this version for writing does not wait for another writer's lock",
          "[core][store][durability]") {
  const std::string path = (FreshDir("open_locked") / "store.sqlite").string();
  auto holder = Store::OpenForWriting(path);
  const int64_t study = holder->CreateOrUpdateStudy(Spec());
  Store::Batch hold(*holder);
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(10);
  auto store = Store::OpenForWriting(path, options);  // reads only: nothing to wait for
  CHECK(store->FindStudy("s")->id == study);
  CHECK_THROWS_AS(store->AddTrial(study, 0, TrialState::kQueued, Json::object(), 0), StoreError);
  hold.Commit();
  store->AddTrial(study, 0, TrialState::kQueued, Json::object(), 0);
  CHECK(store->Trials(study).size() == 1);
}
