// End to end: a worker joined by hand must hold the study's token (orchestrator/auth.h), with the
// real binary and a built-in objective, so no LibTorch is involved.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// The address and token file of the run's "more workers: ..." line, waiting up to 60 s for it.
std::smatch JoinLine(const fs::path& output, std::string& text) {
  const std::regex join("ensweep worker --connect (\\S+) --token-file (\\S+)\\)");
  std::smatch match;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    text = ReadFile(output);
    if (std::regex_search(text, match, join)) return match;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("no join line in: " << text);
  return match;
}

}  // namespace

TEST_CASE("a worker without the study's token is refused and one with it joins the run",
          "[e2e][auth]") {
  const fs::path dir = FreshDir("worker_auth");
  const fs::path study = dir / "study.yaml";
  // 8 trials x 4 epochs of 0.2 s: about 6 s with the run's one local worker.
  std::ofstream(study) << "study: auth\n"
                       << "storage: " << (dir / "store.sqlite").string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << "trainer: {type: curve, epoch_time: 0.2s, noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: 8, epochs: 4}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  const pid_t run = StartRun(study, 1, dir / "run.txt");
  std::string text;
  const std::smatch join = JoinLine(dir / "run.txt", text);
  const std::string address = join[1], token_file = join[2];
  CHECK(token_file == (fs::weakly_canonical(dir) / ".store.sqlite.auth.token").string());
  struct stat info {};
  REQUIRE(stat(token_file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  const std::string worker = "env -u ENSWEEP_TOKEN " + Ensweep() + " worker --connect " + address;
  const auto tokenless = RunCommand(worker);
  INFO(tokenless.output);
  CHECK(tokenless.status == 2);
  CHECK_THAT(tokenless.output, Catch::Contains("--token-file") && Catch::Contains(".token"));

  const auto wrong = RunCommand("ENSWEEP_TOKEN=" + std::string(64, '0') + " " + Ensweep() +
                                " worker --connect " + address);
  INFO(wrong.output);
  CHECK(wrong.status == 2);
  CHECK_THAT(wrong.output, Catch::Contains("refused this worker's token") &&
                               Catch::Contains("beside the study's store"));

  const auto joined =
      RunCommand(worker + " --token-file " + token_file + " --name extra --threads 1");
  INFO(joined.output);
  CHECK(joined.status == 0);
  CHECK_THAT(joined.output, Catch::Contains("joined study auth"));
  CHECK_THAT(joined.output, Catch::Contains("done after 4 epochs"));

  int raw = 0;
  waitpid(run, &raw, 0);
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  CHECK(WIFEXITED(raw));
  CHECK(WEXITSTATUS(raw) == 0);
  CHECK_THAT(output, Catch::Contains("worker extra ready"));
  // The refused workers were never heard of: no worker but the two that authenticated.
  size_t ready = 0;
  for (const auto& line : Lines(output)) ready += line.find(" ready (") != std::string::npos;
  CHECK(ready == 2);
  const auto store = Store::OpenReadOnly((dir / "store.sqlite").string());
  const auto record = store->FindStudy("auth");
  REQUIRE(record);
  const auto trials = store->Trials(record->id);
  CHECK(trials.size() == 8);
  for (const auto& t : trials) CHECK(t.state == TrialState::kComplete);
}

TEST_CASE("a frame limit out of range on the command line exits with 2", "[e2e][auth]") {
  for (const std::string mib : {"0", "4096", "x"}) {
    const auto bad = RunCommand(Ensweep() + " run nothing.yaml --max-frame-mib " + mib);
    INFO(mib << ": " << bad.output);
    CHECK(bad.status == 2);
    CHECK_THAT(bad.output, Catch::Contains("--max-frame-mib"));
  }
}
