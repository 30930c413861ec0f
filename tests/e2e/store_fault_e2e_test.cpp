// End to end: the store failing under a run (its disk filling up, the file deleted, another
// process holding its lock) and a second run reaching the store through a hard link, with the
// real binary and the built-in `curve` objective, so no LibTorch is involved. Nothing the run
// printed may be missing from the store, and a failure stops the run with a message.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include "core/error.h"
#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// A curve study of `trials` trials x `epochs` epochs of `epoch_time` each, its store at `store`.
fs::path CurveStudy(const fs::path& dir, const fs::path& store, int trials, int epochs,
                    const std::string& epoch_time, const std::string& file = "study.yaml") {
  const fs::path study = dir / file;
  std::ofstream(study) << "study: faults\n"
                       << "storage: " << store.string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << "trainer: {type: curve, epoch_time: " << epoch_time << ", noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: " << trials << ", epochs: " << epochs << "}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  return study;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// The trial numbers a run printed as COMPLETE.
std::set<int64_t> PrintedComplete(const std::string& output) {
  std::set<int64_t> numbers;
  const std::regex complete(R"(\] trial (\d+) COMPLETE)");
  for (std::sregex_iterator it(output.begin(), output.end(), complete), end; it != end; ++it) {
    numbers.insert(std::stoll((*it)[1]));
  }
  return numbers;
}

std::vector<TrialRecord> StoredTrials(const fs::path& store) {
  const auto reader = Store::OpenReadOnly(store.string());
  const auto study = reader->FindStudy("faults");
  REQUIRE(study);
  return reader->Trials(study->id);
}

// The first run stopped with a full store: it says so, and every trial it printed as COMPLETE is
// COMPLETE in the store. `make_room` gives the store room again; a rerun then finishes the
// study with every trial once, COMPLETE.
void CheckFullThenResume(const fs::path& dir, const fs::path& store, int trials,
                         const CommandResult& first, const std::function<void()>& make_room,
                         const std::string& rerun_env) {
  INFO(first.output);
  CHECK(first.status == 1);
  CHECK_THAT(first.output,
             Catch::Contains("error: the disk holding the store " + store.string() + " is full"));
  CHECK_THAT(first.output, Catch::Contains("nothing reported above is lost"));
  CHECK_THAT(first.output, !Catch::Contains("finished: "));
  CHECK_THAT(first.output, !Catch::Contains("FOREIGN KEY"));
  const std::set<int64_t> printed = PrintedComplete(first.output);
  CHECK(!printed.empty());                              // it filled mid-run,
  CHECK(printed.size() < static_cast<size_t>(trials));  // not after the end
  make_room();
  for (const auto& trial : StoredTrials(store)) {
    if (printed.count(trial.number) > 0) {
      INFO("trial " << trial.number);
      CHECK(trial.state == TrialState::kComplete);
    }
  }
  std::set<int64_t> stored_complete;
  for (const auto& trial : StoredTrials(store)) {
    if (trial.state == TrialState::kComplete) stored_complete.insert(trial.number);
  }
  for (const int64_t number : printed) CHECK(stored_complete.count(number) == 1);
  const auto rerun =
      RunCommand(rerun_env + Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 2");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  const auto after = StoredTrials(store);
  CHECK(after.size() == static_cast<size_t>(trials));
  std::set<int64_t> numbers;
  for (const auto& trial : after) {
    numbers.insert(trial.number);
    CHECK(trial.state == TrialState::kComplete);
  }
  CHECK(numbers.size() == after.size());  // no trial twice
  CHECK(*numbers.rbegin() == trials - 1);
}

constexpr int kManyTrials = 300;

}  // namespace

TEST_CASE("the store's disk filling mid-run stops the run with a message and loses nothing printed",
          "[e2e][store_fault]") {
  if (geteuid() != 0) {
    WARN("not root: the page-limit test stands in for a full disk");
    return;
  }
  const fs::path dir = FreshDir("disk_full");
  const fs::path disk = dir / "disk";
  fs::create_directories(disk);
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=384k") != 0) {
    WARN("cannot mount a tmpfs here: the page-limit test stands in for a full disk");
    return;
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk};
  const fs::path store = disk / "store.sqlite";
  const fs::path study = CurveStudy(dir, store, kManyTrials, 2, "0.005s");
  const auto first = RunCommand(Ensweep() + " run " + study.string() + " --workers 2");
  CheckFullThenResume(
      dir, store, kManyTrials, first,
      [&] { REQUIRE(mount("tmpfs", disk.c_str(), "tmpfs", MS_REMOUNT, "size=64m") == 0); }, "");
}

TEST_CASE("a store at its page limit (ENSWEEP_STORE_MAX_PAGES) stops the run the same way",
          "[e2e][store_fault]") {
  const fs::path dir = FreshDir("max_pages");
  const fs::path store = dir / "store.sqlite";
  Store::OpenForWriting(store.string()).reset();  // the schema's pages, then room for a few trials
  const int64_t pages = static_cast<int64_t>(fs::file_size(store) / 4096) + 8;
  const fs::path study = CurveStudy(dir, store, kManyTrials, 2, "0.005s");
  const auto first = RunCommand("ENSWEEP_STORE_MAX_PAGES=" + std::to_string(pages) + " " +
                                Ensweep() + " run " + study.string() + " --workers 2");
  CheckFullThenResume(
      dir, store, kManyTrials, first, [] {}, "");
}

TEST_CASE("the store deleted mid-run stops the run with exit 1 and a message",
          "[e2e][store_fault]") {
  const fs::path dir = FreshDir("deleted");
  const fs::path store = dir / "store.sqlite";
  const fs::path study = CurveStudy(dir, store, 4, 4, "0.25s");
  const pid_t run = StartRun(study, 2, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  fs::remove(store);
  const int status = WaitExit(run);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(status == 1);
  CHECK_THAT(output, Catch::Contains("error: the store " + store.string() + " was deleted"));
  CHECK_THAT(output, !Catch::Contains("finished: "));
}

TEST_CASE("a store locked by another process for a while is waited for and the run finishes",
          "[e2e][store_fault]") {
  const fs::path dir = FreshDir("locked");
  const fs::path store = dir / "store.sqlite";
  const fs::path study = CurveStudy(dir, store, 4, 4, "0.25s");
  const pid_t run = StartRun(study, 2, dir / "run.txt", {"ENSWEEP_STORE_BUSY_TIMEOUT_MS=200"});
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  {
    auto holder = Store::OpenForWriting(store.string());
    Store::Batch hold(*holder);  // BEGIN IMMEDIATE: the store's write lock, for 3 s
    std::this_thread::sleep_for(std::chrono::seconds(3));
    hold.Commit();
  }
  const int status = WaitExit(run);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(status == 0);
  CHECK(Count(output, "store " + store.string() + " is locked by another process; waiting") == 1);
  CHECK_THAT(output, !Catch::Contains("STALE"));
  const auto trials = StoredTrials(store);
  CHECK(trials.size() == 4);
  for (const auto& trial : trials) {
    CHECK(trial.state == TrialState::kComplete);
    CHECK(trial.retries == 0);
  }
}

TEST_CASE("a stop request while another process holds the store's lock stops the run cleanly",
          "[e2e][store_fault]") {
  const fs::path dir = FreshDir("locked_stop");
  const fs::path store = dir / "store.sqlite";
  const fs::path study = CurveStudy(dir, store, 3, 4, "0.25s");
  const pid_t run = StartRun(study, 2, dir / "run.txt", {"ENSWEEP_STORE_BUSY_TIMEOUT_MS=200"});
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  {
    auto holder = Store::OpenForWriting(store.string());
    Store::Batch hold(*holder);
    CHECK(WaitFor(dir / "run.txt", "is locked by another process; waiting"));
    kill(run, SIGTERM);
    const int status = WaitExit(run);  // while the lock is still held
    const std::string output = ReadFile(dir / "run.txt");
    INFO(output);
    CHECK(status == 130);
    CHECK_THAT(output, Catch::Contains("stopped: "));
    CHECK_THAT(output, Catch::Contains("while another process held the store's lock"));
    hold.Commit();
  }
  // The trials it was running are retried; the study finishes.
  const auto rerun = RunCommand(Ensweep() + " run " + study.string() + " --workers 2");
  INFO(rerun.output);
  CHECK(rerun.status == 0);
  const auto trials = StoredTrials(store);
  CHECK(trials.size() == 3);
  for (const auto& trial : trials) CHECK(trial.state == TrialState::kComplete);
}

TEST_CASE("a second run of a running study through a hard link to its store exits with 2",
          "[e2e][store_fault]") {
  const fs::path dir = FreshDir("hard_link");
  const fs::path store = dir / "store.sqlite";
  const fs::path study = CurveStudy(dir, store, 3, 4, "0.25s");
  const pid_t first = StartRun(study, 1, dir / "first.txt");
  REQUIRE(WaitFor(dir / "first.txt", "epoch 1/4"));
  fs::create_directories(dir / "other");
  fs::create_hard_link(store, dir / "other" / "linked.sqlite");
  const fs::path linked =
      CurveStudy(dir / "other", dir / "other" / "linked.sqlite", 3, 4, "0.25s", "linked.yaml");
  const auto second = RunCommand(Ensweep() + " run " + linked.string() + " --workers 1");
  INFO(second.output);
  CHECK(second.status == 2);
  CHECK_THAT(second.output, Catch::Contains("is already being run (pid " + std::to_string(first)));
  const int status = WaitExit(first);
  INFO(ReadFile(dir / "first.txt"));
  CHECK(status == 0);
  const auto trials = StoredTrials(store);
  CHECK(trials.size() == 3);
  for (const auto& trial : trials) CHECK(trial.retries == 0);  // the second run took none over
}
