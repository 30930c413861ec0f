// End to end: faults from outside a run, through the real binary with built-in objectives (no
// LibTorch, no data): a hang-up (SIGHUP), a closed stdout (`| head -3`), a coordinator stopped for
// longer than the heartbeat timeout (SIGSTOP, SIGCONT), and a coordinator killed outright
// (SIGKILL) at random points of a sweep, again and again, until a last run finishes it.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A study named `name` stored in dir (store.sqlite, artifacts/), with `body` giving its trainer,
// objective, budget, space and whatever else it needs.
fs::path WriteStudy(const fs::path& dir, const std::string& name, const std::string& body) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: " << name << "\n"
                       << "storage: " << (dir / "store.sqlite").string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << body;
  return study;
}

// A curve study of `trials` trials x `epochs` epochs of `epoch_time` each.
fs::path CurveStudy(const fs::path& dir, int trials, int epochs, const std::string& epoch_time,
                    const std::string& extra = "") {
  return WriteStudy(dir, "faults",
                    "trainer: {type: curve, epoch_time: " + epoch_time + ", noise: 0.01}\n" +
                        "objective: {metric: val_accuracy, direction: maximize}\n" +
                        "budget: {trials: " + std::to_string(trials) +
                        ", epochs: " + std::to_string(epochs) + "}\n" +
                        "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n" + extra);
}

// Starts `ensweep run study --workers N` in a process group of its own, its stdout on `out_fd`
// and its stderr on `err_fd`.
pid_t Spawn(const fs::path& study, int workers, int out_fd, int err_fd) {
  std::vector<std::string> args = {Ensweep(), "run", study.string(), "--workers",
                                   std::to_string(workers)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct Exit {
  int status = -1;   // exit status; -1 if killed by a signal or not ended in time
  int signal = 0;    // the signal that ended it
  double cpu_s = 0;  // user + system time of the process and the children it reaped
};

// Waits up to `limit` for `pid` to end; past it, kills it (status -1).
Exit WaitEnd(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = Clock::now() + limit;
  int raw = 0;
  struct rusage usage {};
  while (wait4(pid, &raw, WNOHANG, &usage) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      wait4(pid, &raw, 0, &usage);
      return Exit{};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Exit exit;
  if (WIFEXITED(raw)) exit.status = WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) exit.signal = WTERMSIG(raw);
  exit.cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
               usage.ru_stime.tv_usec / 1e6;
  return exit;
}

// The local workers of the coordinator `coordinator`: processes whose command line holds
// `--coordinator-pid <coordinator>` (a zombie's is empty).
std::vector<pid_t> WorkersOf(pid_t coordinator) {
  std::vector<pid_t> pids;
  const std::string wanted = std::to_string(coordinator);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::vector<std::string> args;
    for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--coordinator-pid" && args[i + 1] == wanted) {
        pids.push_back(std::stoi(name));
      }
    }
  }
  return pids;
}

// True once no local worker of `coordinator` is left, waiting up to 10 s.
bool WorkersGone(pid_t coordinator) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!WorkersOf(coordinator).empty()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::vector<TrialRecord> StoredTrials(const fs::path& dir) {
  const auto store = Store::OpenReadOnly((dir / "store.sqlite").string());
  const auto study = store->FindStudy("faults");
  REQUIRE(study);
  return store->Trials(study->id);
}

// Requires the study in dir to hold trials 0..count-1, each once and COMPLETE, with `retries`
// retries each when given.
void CheckAllComplete(const fs::path& dir, int count, std::optional<int> retries = std::nullopt) {
  const auto trials = StoredTrials(dir);
  REQUIRE(trials.size() == static_cast<size_t>(count));
  std::set<int64_t> numbers;
  for (const auto& t : trials) {
    INFO("trial " << t.number << ": " << t.error);
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.value);
    if (retries) CHECK(t.retries == *retries);
    numbers.insert(t.number);
  }
  CHECK(numbers.size() == static_cast<size_t>(count));
  CHECK(*numbers.begin() == 0);
  CHECK(*numbers.rbegin() == count - 1);
}

}  // namespace

TEST_CASE("SIGHUP stops a run cleanly with status 129 and a rerun finishes the study",
          "[e2e][faults][signals]") {
  const fs::path dir = FreshDir("sighup");
  const fs::path study = CurveStudy(dir, 3, 4, "0.25s");
  const pid_t run = StartRun(study, 2, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  // As a hang-up of a whole session may: the workers first (they leave it to the coordinator),
  // then the coordinator.
  const auto workers = WorkersOf(run);
  REQUIRE(workers.size() == 2);
  for (pid_t worker : workers) kill(worker, SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(run, SIGHUP);
  const Exit exit = WaitEnd(run);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(exit.status == 129);
  CHECK_THAT(output, Catch::Contains("stopped: "));
  CHECK_THAT(output, !Catch::Contains("STALE"));
  CHECK_THAT(output, !Catch::Contains("lost"));
  CHECK(WorkersGone(run));
  int queued = 0;
  for (const auto& t : StoredTrials(dir)) {
    INFO("trial " << t.number << ": " << t.error);
    CHECK((t.state == TrialState::kQueued || t.state == TrialState::kComplete));
    if (t.state == TrialState::kQueued) {
      CHECK_THAT(t.error, Catch::Contains("interrupted"));
      ++queued;
    }
  }
  CHECK(queued >= 1);  // the trials it was running when the signal came
  const auto rerun = RunCommand(Ensweep() + " run " + study.string() + " --workers 2");
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CheckAllComplete(dir, 3, 0);  // each once, at its first attempt: a hang-up is no retry
}

TEST_CASE("a run whose stdout is closed (| head -3) finishes the study and exits with 0",
          "[e2e][faults][signals]") {
  const fs::path dir = FreshDir("closed_stdout");
  const fs::path study = CurveStudy(dir, 12, 2, "0.05s");
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  const int err =
      open((dir / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const auto started = Clock::now();
  const pid_t run = Spawn(study, 2, fds[1], err);
  close(fds[1]);
  close(err);
  // What `head -3` does: read three lines, then close the pipe.
  std::string head;
  char c;
  int lines = 0;
  while (lines < 3 && read(fds[0], &c, 1) == 1) {
    head += c;
    lines += c == '\n';
  }
  close(fds[0]);
  const Exit exit = WaitEnd(run);
  const double wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  const std::string errors = ReadFile(dir / "stderr.txt");
  INFO(head << errors);
  CHECK(lines == 3);
  CHECK(exit.signal == 0);  // not SIGPIPE
  CHECK(exit.status == 0);
  CHECK_THAT(errors, !Catch::Contains("error"));
  CHECK(exit.cpu_s < 0.5 * wall_s + 1);  // it waited for its workers; nothing spun on the pipe
  CheckAllComplete(dir, 12, 0);
}

TEST_CASE("a coordinator stopped for longer than the heartbeat timeout loses no worker",
          "[e2e][faults][signals]") {
  const fs::path dir = FreshDir("sigstop");
  const fs::path study =
      CurveStudy(dir, 4, 4, "0.2s", "resources: {heartbeat_timeout: 2s, max_retries: 0}\n");
  const pid_t run = StartRun(study, 2, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "epoch 1/4"));
  kill(run, SIGSTOP);  // as Ctrl-Z, or a suspended machine: the workers' reports wait
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kill(run, SIGCONT);
  const Exit exit = WaitEnd(run);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(exit.status == 0);
  CHECK_THAT(output, !Catch::Contains("lost"));
  CHECK_THAT(output, !Catch::Contains("STALE"));
  CHECK_THAT(output, Catch::Contains("the coordinator did not run for"));
  CheckAllComplete(dir, 4, 0);
}

namespace {

// A trial a run printed as COMPLETE: "[  12/60] trial 11 COMPLETE  value=3.1416  best ...".
struct Printed {
  int run = 0;
  int64_t number = 0;
  double value = 0;
};

// What a kill campaign left behind.
struct Campaign {
  fs::path dir;
  int trials = 0;
  int kills = 0;                 // runs that were killed while they ran
  int ended_itself = 0;          // runs that ended before their kill came
  std::vector<Printed> printed;  // COMPLETE lines of every run, the last one's included
  int last_status = -1;
  double seconds = 0;
};

// The COMPLETE lines of one run's output (whole lines only: a killed run may have left half of
// one).
void ParsePrinted(const std::string& output, int run, std::vector<Printed>& printed) {
  static const std::regex line(R"(\] trial (\d+) COMPLETE  value=(-?[0-9.]+) )");
  const std::string whole = output.substr(0, output.rfind('\n') + 1);
  for (const auto& text : Lines(whole)) {
    std::smatch match;
    if (std::regex_search(text, match, line)) {
      printed.push_back(Printed{run, std::stoll(match[1]), std::stod(match[2])});
    }
  }
}

// How many lines of `file` say " COMPLETE " (progress lines, and the final leaderboard's rows).
int CompleteLines(const fs::path& file) {
  int count = 0;
  for (const auto& line : Lines(ReadFile(file)))
    count += line.find(" COMPLETE ") != std::string::npos;
  return count;
}

// Runs a branin study of `trials` trials in a fresh folder `kills` times, each run (3 workers)
// SIGKILLed at a point drawn from `seed`, requiring its workers to exit before the next run; then
// runs it once more to its end. A kill point is either a time from the start (0 to 300 ms, but
// no later than its first trial printed COMPLETE: while the run starts, resumes or has just
// begun) or, 3 times in 8, the moment the run has printed 1 to 3 trials COMPLETE, plus 0 to
// 2 ms (in the thick of the sweep). Each run gets a few trials further, so the sweep lasts for
// all the kills.
Campaign KillCampaign(const std::string& name, int trials, int kills, unsigned seed) {
  Campaign campaign;
  campaign.dir = FreshDir(name);
  campaign.trials = trials;
  const fs::path study = WriteStudy(
      campaign.dir, "faults",
      "trainer: {type: branin}\n"
      "objective: {metric: value, direction: minimize}\n"
      "budget: {trials: " +
          std::to_string(trials) +
          ", epochs: 2}\n"
          "sampler: {type: random, seed: 7}\n"
          // A trial running when its coordinator is killed counts a retry when it runs again.
          "resources: {max_retries: 100}\n"
          "space:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15]}\n");
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> completes(-4, 3);  // below 1: a time from the start
  std::uniform_int_distribution<int> start_ms(0, 300);
  std::uniform_int_distribution<int> extra_us(0, 2000);
  const auto running = [](pid_t run) {  // not ended yet (without reaping it)
    siginfo_t info{};
    return waitid(P_PID, run, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  };
  const auto started = Clock::now();
  for (int i = 0; i < kills; ++i) {
    const fs::path output = campaign.dir / ("run-" + std::to_string(i) + ".txt");
    const int wanted = completes(rng);
    const int ms = start_ms(rng), us = extra_us(rng);
    const pid_t run = StartRun(study, 3, output);
    const auto limit = Clock::now() + (wanted < 1 ? std::chrono::milliseconds(ms)
                                                  : std::chrono::milliseconds(30000));
    while (CompleteLines(output) < std::max(wanted, 1) && running(run) && Clock::now() < limit) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (wanted >= 1) std::this_thread::sleep_for(std::chrono::microseconds(us));
    kill(run, SIGKILL);
    const Exit exit = WaitEnd(run);
    if (exit.signal == SIGKILL) {
      ++campaign.kills;
    } else {
      ++campaign.ended_itself;
      INFO(ReadFile(output));
      CHECK(exit.status == 0);
    }
    // Its workers follow it (PR_SET_PDEATHSIG) and train nothing into the next run's trials.
    CHECK(WorkersGone(run));
    ParsePrinted(ReadFile(output), i, campaign.printed);
  }
  const fs::path output = campaign.dir / "run-last.txt";
  const pid_t run = StartRun(study, 3, output);
  campaign.last_status = WaitEnd(run).status;
  CHECK(WorkersGone(run));
  ParsePrinted(ReadFile(output), kills, campaign.printed);
  campaign.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return campaign;
}

}  // namespace

TEST_CASE("a sweep whose coordinator is killed 20 times keeps every trial exactly once",
          "[e2e][faults][kill]") {
  // The seed of the kill points: change it to explore others; a failure names it.
  const unsigned seed = 20261202;
  INFO("kill points seeded with " << seed);
  const Campaign campaign = KillCampaign("kill_campaign", 60, 20, seed);
  INFO(campaign.kills << " kills, " << campaign.ended_itself << " runs ended by themselves, "
                      << campaign.seconds << " s");
  REQUIRE(campaign.last_status == 0);
  CHECK(campaign.kills >= 15);  // most runs were killed, not finished before their kill
  CheckAllComplete(campaign.dir, campaign.trials);
  // The store itself: intact, no trial number twice, every trial's epochs from one attempt.
  SQLite::Database db((campaign.dir / "store.sqlite").string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM trials").getInt() == campaign.trials);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM (SELECT number FROM trials GROUP BY study_id, number "
                      "HAVING COUNT(*) > 1)")
            .getInt() == 0);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics e JOIN trials t ON t.id = e.trial_id "
                      "WHERE e.name = 'value'")
            .getInt() == 2 * campaign.trials);
  // No trial run again under another number (the random sampler repeats no point).
  CHECK(db.execAndGet("SELECT COUNT(DISTINCT params) FROM trials").getInt() == campaign.trials);
}

// A run prints a round's results only after the round's transaction committed, so a kill at any
// point never loses a printed result (which would be retried and printed again).
TEST_CASE("every trial a killed run printed as COMPLETE is stored COMPLETE with that value",
          "[e2e][faults][kill]") {
  const unsigned seed = 4242;
  INFO("kill points seeded with " << seed);
  const Campaign campaign = KillCampaign("kill_printed", 40, 12, seed);
  REQUIRE(campaign.last_status == 0);
  std::map<int64_t, TrialRecord> stored;
  for (auto& t : StoredTrials(campaign.dir)) stored[t.number] = t;
  std::map<int64_t, int> times_printed;
  for (const auto& p : campaign.printed) {
    INFO("run " << p.run << " printed trial " << p.number << " COMPLETE value=" << p.value);
    const auto it = stored.find(p.number);
    REQUIRE(it != stored.end());
    CHECK(it->second.state == TrialState::kComplete);
    REQUIRE(it->second.value);
    CHECK(std::abs(*it->second.value - p.value) <= 0.5e-4 * (1 + std::abs(p.value)));
    // Printed once: a printed result that was not stored is trained and printed again.
    CHECK(++times_printed[p.number] == 1);
  }
}
