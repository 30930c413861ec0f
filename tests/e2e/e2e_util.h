// Helpers for end-to-end tests that run the real `ensweep` binary.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
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
