// ProgressPrinter's two views, driven by the events a coordinator sends it, on a simulated clock.
// The terminal view's bytes are played through a small terminal emulator (text, newline,
// carriage return, cursor-up and clear-line), whose screen is what a user would see.
#include "orchestrator/progress.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <sstream>

using namespace ensweep;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The screen (scrolled-off lines included) after `bytes`; fails on any control code it does not
// know, so that the view cannot use one the test does not check.
std::vector<std::string> Screen(const std::string& bytes) {
  std::vector<std::string> rows(1);
  size_t row = 0, column = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\x1b') {
      REQUIRE(i + 1 < bytes.size());
      REQUIRE(bytes[i + 1] == '[');
      size_t end = i + 2;
      int count = 0;
      while (end < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[end]))) {
        count = count * 10 + (bytes[end++] - '0');
      }
      REQUIRE(end < bytes.size());
      if (bytes[end] == 'A') {
        row -= std::min(row, static_cast<size_t>(std::max(count, 1)));
      } else {
        REQUIRE(bytes[end] == 'K');
        REQUIRE(count == 2);
        rows[row].clear();
      }
      i = end;
    } else if (c == '\n') {
      ++row;
      column = 0;
      if (row == rows.size()) rows.emplace_back();
    } else if (c == '\r') {
      column = 0;
    } else {
      REQUIRE(static_cast<unsigned char>(c) >= 0x20);
      if (rows[row].size() <= column) rows[row].resize(column + 1, ' ');
      rows[row][column++] = c;
    }
  }
  while (!rows.empty() && rows.back().empty()) rows.pop_back();
  return rows;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// A printer on a stream and a clock the test moves, with helpers that send it a trial's events.
struct Run {
  StudySpec spec;
  std::ostringstream out;
  Clock::time_point now{};
  std::unique_ptr<ProgressPrinter> printer;
  std::vector<TrialRecord> trials;
  const TrialRecord* best = nullptr;
  int64_t ended = 0;

  Run(bool terminal, bool verbose, int columns = 100, int64_t planned = 3) {
    spec.objective.metric = "val_f1";
    spec.budget.epochs = 4;
    ProgressView view;
    view.terminal = terminal;
    view.verbose = verbose;
    view.columns = [columns] { return columns; };
    view.now = [this] { return now; };
    printer = std::make_unique<ProgressPrinter>(&out, spec, view);
    trials.resize(static_cast<size_t>(planned));
    RunObserver::Opened opened;
    opened.planned = planned;
    printer->StudyOpened(opened);
  }
  void Start(int64_t number, const std::string& worker, Json params = Json::object()) {
    TrialRecord& trial = trials[static_cast<size_t>(number)];
    trial.number = number;
    trial.worker = worker;
    trial.state = TrialState::kRunning;
    trial.params = std::move(params);
    printer->TrialStarted(trial);
  }
  void Epoch(int64_t number, int epoch, double value) {
    TrialRecord& trial = trials[static_cast<size_t>(number)];
    trial.epochs_done = epoch;
    printer->EpochRecorded(trial, epoch, {{"val_f1", value}, {"train_loss", 1.5}}, false);
  }
  void Complete(int64_t number, double value, double seconds_run) {
    TrialRecord& trial = trials[static_cast<size_t>(number)];
    trial.state = TrialState::kComplete;
    trial.value = value;
    if (best == nullptr || value > *best->value) best = &trial;
    printer->TrialEnded({trial, ++ended, static_cast<int64_t>(trials.size()), best, seconds_run});
  }
  void Wait(milliseconds time) { now += time; }
};

}  // namespace

TEST_CASE("The plain view prints no control code and one line per ended trial") {
  Run run(/*terminal=*/false, /*verbose=*/false);
  run.printer->Note("worker local-1 ready (cpu)");
  run.Start(0, "local-1", {{"lr", 0.05}});
  run.Start(1, "local-2", {{"lr", 0.01}});
  run.printer->Flush();
  run.Epoch(0, 1, 0.25);
  run.Epoch(1, 1, 0.20);
  run.Wait(milliseconds(500));
  run.printer->Flush();
  run.Complete(0, 0.3, 12.5);
  run.printer->Flush();
  run.Complete(1, 0.4, 14);
  run.Start(2, "local-1");
  run.printer->Flush();
  run.Complete(2, 0.1, 3);
  run.printer->Flush();
  run.printer->Finish();
  const std::string out = run.out.str();
  INFO(out);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\r') == std::string::npos);
  CHECK(Count(out, "\n") == 4);  // the note and three trials
  CHECK_THAT(out, Catch::StartsWith("worker local-1 ready (cpu)\n"));
  CHECK_THAT(out, Catch::Contains("[   1/3] trial 0 COMPLETE  val_f1=0.3000  best 0.3000 (trial "
                                  "0)  12.5s  lr=0.05\n"));
  CHECK_THAT(out,
             Catch::Contains("[   2/3] trial 1 COMPLETE  val_f1=0.4000  best 0.4000 (trial 1)"));
  CHECK_THAT(out,
             Catch::Contains("[   3/3] trial 2 COMPLETE  val_f1=0.1000  best 0.4000 (trial 1)"));
  CHECK(Count(out, "epoch") == 0);
}

TEST_CASE("The verbose views add a line per epoch") {
  for (const bool terminal : {false, true}) {
    Run run(terminal, /*verbose=*/true);
    run.Start(0, "local-1");
    run.Epoch(0, 1, 0.25);
    run.Epoch(0, 2, 0.5);
    run.printer->Flush();
    run.printer->Finish();
    INFO(run.out.str());
    const std::vector<std::string> screen = Screen(run.out.str());
    REQUIRE(screen.size() == 2);
    CHECK_THAT(screen[0], Catch::StartsWith("           trial 0 epoch 1/4  train_loss=1.5000  "
                                            "val_f1=0.2500"));
    CHECK_THAT(screen[1], Catch::StartsWith("           trial 0 epoch 2/4"));
  }
}

TEST_CASE("The terminal view keeps ended trials above a status block redrawn in place") {
  Run run(/*terminal=*/true, /*verbose=*/false);
  run.printer->Note("worker local-1 ready (cpu)");
  run.Start(0, "local-1");
  run.Start(1, "local-2");
  run.printer->Flush();
  run.Wait(seconds(10));
  run.Epoch(0, 1, 0.25);
  run.printer->Flush();
  run.Wait(seconds(10));
  run.Epoch(0, 2, 0.5);
  run.Epoch(1, 1, 0.125);
  run.printer->Flush();
  run.Wait(seconds(10));
  run.Complete(0, 0.5, 30);
  run.Start(2, "local-1");
  run.printer->Flush();
  run.Wait(seconds(2));
  run.Epoch(2, 1, 0.75);
  run.printer->Flush();
  INFO(run.out.str());
  const std::vector<std::string> screen = Screen(run.out.str());
  const std::vector<std::string> expected = {
      "worker local-1 ready (cpu)",
      "trial 0 COMPLETE  val_f1=0.5000  30.0s  ",
      "1/3 ended (1 complete, 0 pruned, 0 failed), 2 running, 0 queued",
      "best 0.5000 (trial 0); 32s elapsed, about 1m04s left",
      "  trial 1  local-2  epoch 1/4  val_f1=0.1250",
      "  trial 2  local-1  epoch 1/4  val_f1=0.7500",
  };
  CHECK(screen == expected);

  // The end of the run takes the block away: the summary follows the trials' lines.
  run.printer->Finish();
  const std::vector<std::string> last = Screen(run.out.str());
  CHECK(last == std::vector<std::string>(expected.begin(), expected.begin() + 2));
}

TEST_CASE("The terminal view redraws a changed block at most every redraw interval") {
  Run run(/*terminal=*/true, /*verbose=*/false);
  run.Start(0, "local-1");
  run.printer->Flush();
  const std::string first = run.out.str();
  run.Wait(milliseconds(100));
  run.Epoch(0, 1, 0.25);
  run.printer->Flush();  // too soon: nothing written
  CHECK(run.out.str() == first);
  run.Wait(milliseconds(200));
  run.printer->Flush();  // the change is shown once the interval has passed
  const std::vector<std::string> screen = Screen(run.out.str());
  REQUIRE(screen.size() == 3);
  CHECK(screen[2] == "  trial 0  local-1  epoch 1/4  val_f1=0.2500");
}

TEST_CASE("The terminal view cuts trial lines and its block to the terminal's width") {
  Run run(/*terminal=*/true, /*verbose=*/false, /*columns=*/48);
  const Json params = {
      {"backbone", "resnet18"}, {"optimizer", "sgd"}, {"lr", 0.0123456}, {"weight_decay", 0.0005}};
  run.Start(0, "local-1", params);
  run.Start(1, "a-worker-with-a-rather-long-name-on-some-host", params);
  run.printer->Flush();
  run.Wait(seconds(30));
  run.Complete(0, 0.5, 30);
  run.printer->Flush();
  INFO(run.out.str());
  const std::vector<std::string> screen = Screen(run.out.str());
  REQUIRE(screen.size() == 4);
  for (const std::string& line : screen) {
    CHECK(line.size() <= 47);
    CHECK_THAT(line, Catch::EndsWith("..."));
  }
  CHECK_THAT(screen[0], Catch::StartsWith("trial 0 COMPLETE  val_f1=0.5000  30.0s  ba"));
  CHECK(screen[2] == "best 0.5000 (trial 0); 30s elapsed, about 1m...");
  CHECK(screen[3] == "  trial 1  a-worker-with-a-rather-long-name-...");
}

TEST_CASE("Lines written around the terminal view do not land inside its block") {
  Run run(/*terminal=*/true, /*verbose=*/false);
  run.Start(0, "local-1");
  run.printer->Flush();
  run.printer->Interject([&] { run.out << "[12:00:00 worker local-1 warn] something\n"; });
  run.printer->NoteNow("store s.sqlite is locked by another process; waiting for it");
  run.Wait(seconds(1));
  run.printer->Flush();
  INFO(run.out.str());
  const std::vector<std::string> screen = Screen(run.out.str());
  REQUIRE(screen.size() == 5);
  CHECK(screen[0] == "[12:00:00 worker local-1 warn] something");
  CHECK(screen[1] == "store s.sqlite is locked by another process; waiting for it");
  CHECK(screen[2] == "0/3 ended (0 complete, 0 pruned, 0 failed), 1 running, 2 queued");
  CHECK(screen[3] == "1s elapsed");
  CHECK(screen[4] == "  trial 0  local-1  epoch 0/4");
}

TEST_CASE("A dropped round shows neither its lines nor its changes") {
  for (const bool terminal : {false, true}) {
    Run run(terminal, /*verbose=*/true);
    run.Start(0, "local-1");
    run.printer->Flush();
    run.Epoch(0, 1, 0.25);
    run.Complete(0, 0.25, 1);
    run.printer->Drop();
    run.Wait(seconds(1));
    run.printer->Flush();
    INFO(run.out.str());
    CHECK(run.out.str().find("trial 0 COMPLETE") == std::string::npos);
    CHECK(run.out.str().find("epoch 1/4") == std::string::npos);
    if (terminal) CHECK(Screen(run.out.str()).back() == "  trial 0  local-1  epoch 0/4");
  }
}

TEST_CASE("The plain view prints a status line every 30 s and every tenth of a long run") {
  Run run(/*terminal=*/false, /*verbose=*/false, 100, /*planned=*/20);
  run.Start(0, "local-1");
  run.printer->Flush();
  run.Wait(seconds(29));
  run.printer->Flush();
  CHECK(run.out.str().empty());
  run.Wait(seconds(1));
  run.printer->Flush();
  CHECK(run.out.str() ==
        "status: 0/20 ended (0 complete, 0 pruned, 0 failed), 1 running, 19 queued; 30s elapsed\n");
  run.out.str("");
  run.Wait(seconds(10));
  run.Complete(0, 0.5, 40);
  run.printer->Flush();
  CHECK(Count(run.out.str(), "status:") == 0);  // 1 of 20: not yet a tenth
  run.Start(1, "local-1");
  run.Complete(1, 0.25, 1);
  run.printer->Flush();
  INFO(run.out.str());
  CHECK(Count(run.out.str(), "\n") == 3);
  CHECK_THAT(run.out.str(),
             Catch::EndsWith("status: 2/20 ended (2 complete, 0 pruned, 0 failed), 0 running, 18 "
                             "queued; best 0.5000 (trial 0); 40s elapsed, about 6m00s left\n"));
}

TEST_CASE("FitWidth counts characters, not bytes, and marks what it cut") {
  CHECK(FitWidth("short", 40) == "short");
  CHECK(FitWidth("0123456789abc", 10) == "0123456...");
  CHECK(FitWidth("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5) ==
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  CHECK(FitWidth("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8) ==
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
}
