// The coordinator after a pause of its own (SIGSTOP and SIGCONT, a suspended machine): messages
// that arrived meanwhile are read before any worker is judged silent, and a pause longer than the
// heartbeat timeout gives every worker a fresh timeout; a worker that really stops answering is
// still declared lost. The pause is simulated with a fake clock (CoordinatorOptions::now) and a
// transport that stands still and then jumps the clock, over in-process workers running the real
// worker loop.
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include "fake_trainer.h"
#include "orchestrator/coordinator.h"
#include "tests/scratch_dir.h"
#include "worker_harness.h"

namespace fs = std::filesystem;
using namespace ensweep;
using ensweep::testing::FakeTrainer;
using ensweep::testing::WorkerHarness;
using Clock = std::chrono::steady_clock;

namespace {

// A study of `trials` x `epochs` for the fake trainer with a 1 s heartbeat timeout (the least a
// study may give).
StudySpec PauseStudy(int64_t trials, int epochs) {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_pause_test", std::to_string(counter++));
  const Json doc = {{"study", "pause"},
                    {"storage", (dir / "s.sqlite").string()},
                    {"artifacts", (dir / "artifacts").string()},
                    {"data", {{"train", "/unused"}}},
                    {"budget", {{"trials", trials}, {"epochs", epochs}}},
                    {"sampler", {{"seed", 5}}},
                    {"resources", {{"heartbeat_timeout", 1}}},
                    {"space", {{"lr", {{"log_uniform", {1e-3, 1e-1}}}}}}};
  return ParseStudy(doc, "test", "/");
}

// The steady clock plus an offset the test moves forward.
class FakeClock {
 public:
  Clock::time_point Now() const { return Clock::now() + Clock::duration(offset_.load()); }
  void Advance(std::chrono::milliseconds by) {
    offset_ += std::chrono::duration_cast<Clock::duration>(by).count();
  }

 private:
  std::atomic<Clock::rep> offset_{0};
};

// How the coordinator is paused once: `skipped` of its clock pass while it stands still (the
// workers go on for `real` wall time meanwhile).
struct Pause {
  std::chrono::milliseconds skipped;
  std::chrono::milliseconds real;
};

// The coordinator's end of an in-process hub, pausing on cue: once `trigger_runs` RUN messages
// have been sent, each of the next waiting Polls is one of `pauses`: it waits `real`, advances
// the clock by `skipped` and returns nothing, as a Poll whose deadline passed while the process
// was stopped; what the workers sent meanwhile stays in the hub for the next Poll.
class PausingTransport : public CoordinatorTransport {
 public:
  PausingTransport(CoordinatorTransport& inner, FakeClock& clock, int trigger_runs,
                   std::deque<Pause> pauses)
      : inner_(inner), clock_(clock), trigger_runs_(trigger_runs), pauses_(std::move(pauses)) {}

  std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) override {
    if (timeout.count() > 0 && runs_sent_ >= trigger_runs_ && !pauses_.empty()) {
      const Pause pause = pauses_.front();
      pauses_.pop_front();
      std::this_thread::sleep_for(pause.real);
      clock_.Advance(pause.skipped);
      ++pauses_taken_;
      return std::nullopt;
    }
    return inner_.Poll(timeout);
  }

  void Send(int peer, const Message& message) override {
    if (message.type == msg::kRun) ++runs_sent_;
    inner_.Send(peer, message);
  }

  void Disconnect(int peer) override { inner_.Disconnect(peer); }
  std::string Endpoint() const override { return "pausing"; }

  int pauses_taken() const { return pauses_taken_; }

 private:
  CoordinatorTransport& inner_;
  FakeClock& clock_;
  int trigger_runs_;
  std::deque<Pause> pauses_;
  int runs_sent_ = 0;
  int pauses_taken_ = 0;
};

// Fake-trainer workers, `epoch_ms` per epoch.
class Harness : public WorkerHarness {
 public:
  Harness(const StudySpec& spec, int workers, int epoch_ms)
      : WorkerHarness(spec, workers, [epoch_ms](const StudySpec&) {
          return std::make_unique<FakeTrainer>(epoch_ms);
        }) {}
};

// Runs the coordinator over `transport` with the fake clock, expecting `workers` workers (so that
// losing them all ends the run with an error instead of a wait), its progress lines in `progress`.
RunSummary RunPaused(const StudySpec& spec, Harness& harness, CoordinatorTransport& transport,
                     FakeClock& clock, int workers, std::ostringstream& progress) {
  CoordinatorOptions options;
  options.now = [&clock] { return clock.Now(); };
  options.expected_workers = workers;
  options.progress = &progress;
  Coordinator coordinator(spec, harness.store(), transport, options);
  return coordinator.Run();
}

// Every trial complete at its first attempt, no worker lost.
void CheckNothingLost(Harness& harness, const RunSummary& summary, int64_t trials,
                      const std::string& progress) {
  INFO(progress);
  CHECK_THAT(progress, !Catch::Contains("lost"));
  CHECK(summary.complete == trials);
  CHECK(summary.stale == 0);
  for (const auto& t : harness.store().Trials(summary.study_id)) {
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.retries == 0);
  }
}

}  // namespace

TEST_CASE("messages that arrived while the coordinator was paused are read before heartbeats",
          "[orchestrator][coordinator][pause]") {
  // Two pauses in a row, each shorter than the 1 s timeout but together longer: the workers'
  // reports wait unread through each, and only reading them first keeps the workers alive (the
  // pauses are too short for a fresh timeout).
  const StudySpec spec = PauseStudy(4, 5);
  Harness harness(spec, 2, /*epoch_ms=*/20);
  FakeClock clock;
  const Pause pause{std::chrono::milliseconds(500), std::chrono::milliseconds(200)};
  PausingTransport transport(harness.hub().coordinator(), clock, 2, {pause, pause});
  std::ostringstream progress;
  const RunSummary summary = RunPaused(spec, harness, transport, clock, 2, progress);
  CHECK(transport.pauses_taken() == 2);
  CheckNothingLost(harness, summary, 4, progress.str());
}

TEST_CASE("a coordinator paused for longer than the heartbeat timeout loses no worker",
          "[orchestrator][coordinator][pause]") {
  // 5 s of the coordinator's clock pass at once while the workers are mid-epoch: none of them
  // could have been heard, none is lost.
  const StudySpec spec = PauseStudy(4, 3);
  Harness harness(spec, 2, /*epoch_ms=*/150);
  FakeClock clock;
  PausingTransport transport(
      harness.hub().coordinator(), clock, 2,
      {Pause{std::chrono::milliseconds(5000), std::chrono::milliseconds(0)}});
  std::ostringstream progress;
  const RunSummary summary = RunPaused(spec, harness, transport, clock, 2, progress);
  CHECK(transport.pauses_taken() == 1);
  CheckNothingLost(harness, summary, 4, progress.str());
}

namespace {

// Hangs in its first trial, without a report or a heartbeat, until released; its later trials are
// the fake trainer's.
class HangingTrainer : public Trainer {
 public:
  struct Gate {
    std::mutex mutex;
    std::condition_variable opened;
    bool open = false;
    bool hung = false;  // a trial has hung already

    void Open() {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
      opened.notify_all();
    }
  };

  explicit HangingTrainer(Gate& gate) : gate_(gate) {}

  TrialResult Run(const TrialRequest& request, TrialContext& context) override {
    {
      std::unique_lock<std::mutex> lock(gate_.mutex);
      if (!gate_.hung) {
        gate_.hung = true;
        gate_.opened.wait(lock, [this] { return gate_.open; });
      }
    }
    return FakeTrainer().Run(request, context);
  }

  std::string Device() const override { return "hanging"; }

 private:
  Gate& gate_;
};

}  // namespace

TEST_CASE("a worker that stops answering is still declared lost while the clock runs on",
          "[orchestrator][coordinator][pause]") {
  // The clock advances 0.4 s per round, less than the 1 s timeout: no round looks like a pause
  // of the coordinator, and the silent worker is lost after a few rounds.
  const StudySpec spec = PauseStudy(2, 2);
  HangingTrainer::Gate gate;
  WorkerHarness harness(
      spec, 1, [&gate](const StudySpec&) { return std::make_unique<HangingTrainer>(gate); });
  struct OpenAtExit {  // before the harness joins its worker thread
    HangingTrainer::Gate& gate;
    ~OpenAtExit() { gate.Open(); }
  } open_at_exit{gate};
  FakeClock clock;
  std::deque<Pause> ticks(20, Pause{std::chrono::milliseconds(400), std::chrono::milliseconds(0)});
  PausingTransport transport(harness.hub().coordinator(), clock, 1, ticks);
  CoordinatorOptions options;
  options.now = [&clock] { return clock.Now(); };
  options.expected_workers = 1;
  std::ostringstream progress;
  options.progress = &progress;
  Coordinator coordinator(spec, harness.store(), transport, options);
  CHECK_THROWS_WITH(coordinator.Run(), Catch::Contains("every worker exited"));
  INFO(progress.str());
  CHECK_THAT(progress.str(), Catch::Contains("worker w1 lost: no message for 1s"));
  CHECK(transport.pauses_taken() <= 5);  // lost within the first rounds past the timeout
  const auto trial = harness.store().FindTrial(1, 0);
  REQUIRE(trial);
  CHECK(trial->state == TrialState::kStale);
  CHECK_THAT(trial->error, Catch::Contains("no message for 1s"));
}
