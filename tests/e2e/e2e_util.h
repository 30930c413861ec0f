// Helpers for end-to-end tests that run the real `ensweep` binary.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/csv.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

namespace ensweep::testing {

struct CommandResult {
  int status = -1;     // exit status, or -1 if it did not exit normally
  std::string output;  // stdout and stderr together
};

inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

inline std::string Ensweep() { return ENSWEEP_BINARY; }

// A fresh folder under the system temp directory, unique to this process and `name`.
inline std::filesystem::path FreshDir(const std::string& name) {
  return ::ensweep::test::FreshDir("ensweep_e2e", name);
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts `ensweep run study --workers N --verbose` in the background, in a process group of its
// own (so a test can signal the whole group), with `env` ("NAME=value" entries) added to its
// environment and ENSWEEP_TOKEN removed from it, and `args` appended to its command line; stdout
// and stderr go to the file `output`.
inline pid_t StartRun(const std::filesystem::path& study, int workers,
                      const std::filesystem::path& output, const std::vector<std::string>& env = {},
                      const std::vector<std::string>& args = {}) {
  const std::string binary = Ensweep(), count = std::to_string(workers);
  // --verbose: the tests wait for epoch lines ("epoch 1/4") to act mid-trial.
  std::vector<std::string> words = {binary, "run", study.string(), "--workers", count, "--verbose"};
  words.insert(words.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    unsetenv("ENSWEEP_TOKEN");
    for (const auto& entry : env) putenv(const_cast<char*>(entry.c_str()));
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// The exit status of a process StartRun started; kills its process group if it has not ended
// within `limit` (-1, as for a process ended by a signal).
inline int WaitExit(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(90)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int raw = 0;
  while (waitpid(pid, &raw, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &raw, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// Waits up to 60 s for `text` to appear in the file.
inline bool WaitFor(const std::filesystem::path& file, const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Generates the competition layout under dir/data with `ensweep datagen` (32x40 images).
inline void GenerateMaskData(const std::filesystem::path& dir, int people, int eval_people,
                             int seed) {
  const auto gen =
      RunCommand(Ensweep() + " datagen --out " + (dir / "data").string() + " --people " +
                 std::to_string(people) + " --eval-people " + std::to_string(eval_people) +
                 " --image-size 32x40 --seed " + std::to_string(seed));
  INFO(gen.output);
  REQUIRE(gen.status == 0);
}

// A fresh folder `name` with generated data (GenerateMaskData), `yaml` written as its study.yaml,
// and `ensweep run` of that study with 2 workers of 1 thread, required to succeed.
inline std::filesystem::path RunGeneratedStudy(const std::string& name, int people, int eval_people,
                                               int seed, const std::string& yaml) {
  const std::filesystem::path dir = FreshDir(name);
  GenerateMaskData(dir, people, eval_people, seed);
  std::ofstream(dir / "study.yaml") << yaml;
  const auto run =
      RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 2 --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);
  return dir;
}

// A study as a run left it in dir/runs/store.sqlite (the store the e2e study files name).
struct StoredStudy {
  std::unique_ptr<Store> store;
  int64_t id = 0;
  std::vector<TrialRecord> trials;
};

inline StoredStudy ReadStudy(const std::filesystem::path& dir, const std::string& name) {
  StoredStudy stored;
  stored.store = Store::OpenReadOnly((dir / "runs/store.sqlite").string());
  const auto study = stored.store->FindStudy(name);
  REQUIRE(study);
  stored.id = study->id;
  stored.trials = stored.store->Trials(study->id);
  return stored;
}

// A trial that must have failed with `message` in its error.
inline void CheckFailedWith(const TrialRecord& trial, const std::string& message) {
  INFO("trial " << trial.number << ": " << trial.error);
  CHECK(trial.state == TrialState::kFailed);
  CHECK_THAT(trial.error, Catch::Contains(message));
}

// Runs `ensweep ensemble dir/study.yaml -k top --out dir/submission.csv` on data with eval labels,
// requires it to succeed and score the submission, and returns the submission it wrote.
inline CsvTable ScoredEnsemble(const std::filesystem::path& dir, int top) {
  const std::filesystem::path submission = dir / "submission.csv";
  const auto ensemble = RunCommand(Ensweep() + " ensemble " + (dir / "study.yaml").string() +
                                   " -k " + std::to_string(top) + " --out " + submission.string());
  INFO(ensemble.output);
  REQUIRE(ensemble.status == 0);
  CHECK_THAT(ensemble.output, Catch::Contains("eval score against"));
  return ReadCsv(submission.string());
}

}  // namespace ensweep::testing
