// The coordinator's time-dependent paths (heartbeat timeouts, the time budget, lost workers, and
// pauses of the coordinator's own: SIGSTOP and SIGCONT, a suspended machine) on a simulated
// clock: the test is the workers, and every message, delay, loss and pause happens at a point of
// simulated time, so the outcomes are exact and nothing sleeps.
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <queue>
#include <sstream>

#include "core/store.h"
#include "orchestrator/coordinator.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

StudySpec ClockStudy(int64_t trials, double heartbeat_timeout_s) {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_clock_test", std::to_string(counter++));
  const Json doc = {{"study", "clock"},
                    {"storage", (dir / "s.sqlite").string()},
                    {"artifacts", (dir / "artifacts").string()},
                    {"data", {{"train", "/unused"}}},
                    {"budget", {{"trials", trials}, {"epochs", 1}}},
                    {"sampler", {{"seed", 3}}},
                    {"resources", {{"heartbeat_timeout", heartbeat_timeout_s}}},
                    {"space", {{"lr", {{"log_uniform", {1e-3, 1e-1}}}}}}};
  return ParseStudy(doc, "test", "/");
}

// How a simulated worker behaves.
struct Behaviour {
  milliseconds trial{1000};     // how long each trial takes
  milliseconds heartbeat{500};  // HEARTBEAT while busy, this often
  int hang_in_trial = -1;       // the trial (by its order on this worker) it hangs in, silent
  milliseconds lost_at{-1};     // the connection drops at this time (from the start)
};

// Workers of a CoordinatorTransport, in simulated time. Poll returns the next event due within
// its timeout, moving the clock to it (or by the whole timeout when none is due).
class SimulatedWorkers : public CoordinatorTransport {
 public:
  explicit SimulatedWorkers(std::vector<Behaviour> workers) : workers_(std::move(workers)) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      const int peer = static_cast<int>(i) + 1;
      At(milliseconds(0), peer,
         msg::Encode(msg::Hello{kProtocolVersion, "sim" + std::to_string(peer), "host", 1}));
      if (workers_[i].lost_at.count() >= 0) {
        TransportEvent lost;
        lost.kind = TransportEvent::Kind::kLost;
        lost.peer = peer;
        lost.reason = "simulated crash";
        Schedule(workers_[i].lost_at, std::move(lost));
      }
    }
  }

  Clock::time_point Now() const { return start_ + elapsed_; }
  milliseconds elapsed() const { return elapsed_; }

  // Pauses of the coordinator's own (SIGSTOP and SIGCONT): once `after_runs` RUN messages have
  // been sent, each of the next waiting Polls lets one of `pauses` pass at once and returns
  // nothing, as a Poll whose deadline passed while the process was stopped; what the workers
  // sent meanwhile waits for the next Poll.
  void PauseAfter(int after_runs, std::deque<milliseconds> pauses) {
    pause_after_runs_ = after_runs;
    pauses_ = std::move(pauses);
  }
  int pauses_taken() const { return pauses_taken_; }

  std::optional<TransportEvent> Poll(milliseconds timeout) override {
    if (timeout.count() > 0 && runs_sent_ >= pause_after_runs_ && !pauses_.empty()) {
      elapsed_ += pauses_.front();
      pauses_.pop_front();
      ++pauses_taken_;
      return std::nullopt;
    }
    while (!events_.empty()) {
      const Scheduled next = events_.top();
      if (next.at > elapsed_ + timeout) break;
      events_.pop();
      elapsed_ = std::max(elapsed_, next.at);
      if (gone_.count(next.event.peer)) continue;
      if (next.event.kind == TransportEvent::Kind::kLost) gone_.insert(next.event.peer);
      return next.event;
    }
    elapsed_ += timeout;
    return std::nullopt;
  }

  void Send(int peer, const Message& message) override {
    if (gone_.count(peer)) return;
    const Behaviour& worker = workers_[static_cast<size_t>(peer - 1)];
    if (message.type == msg::kWelcome) {
      At(elapsed_, peer, msg::Encode(msg::Ready{"sim", true}));
    } else if (message.type == msg::kHeartbeat) {
      At(elapsed_, peer, msg::Encode(msg::Heartbeat{}));
    } else if (message.type == msg::kRun) {
      const msg::Run run = msg::DecodeRun(message);
      ++runs_sent_;
      ++runs_[peer];
      if (runs_[peer] - 1 == worker.hang_in_trial) return;  // silent from now on
      for (auto beat = worker.heartbeat; beat < worker.trial; beat += worker.heartbeat) {
        At(elapsed_ + beat, peer, msg::Encode(msg::Heartbeat{}));
      }
      const double value = 1.0 - run.params["lr"].get<double>();
      At(elapsed_ + worker.trial, peer,
         msg::Encode(msg::Done{run.trial, {{"val_macro_f1", value}}, {}, 1, false}));
    }
  }

  void Disconnect(int peer) override { gone_.insert(peer); }
  std::string Endpoint() const override { return "simulated"; }

 private:
  struct Scheduled {
    milliseconds at;
    int64_t order;
    TransportEvent event;
    bool operator<(const Scheduled& other) const {  // the earliest on top of the queue
      return at != other.at ? at > other.at : order > other.order;
    }
  };

  void At(milliseconds at, int peer, Message message) {
    TransportEvent event;
    event.peer = peer;
    event.message = std::move(message);
    Schedule(at, std::move(event));
  }
  void Schedule(milliseconds at, TransportEvent event) {
    events_.push(Scheduled{at, order_++, std::move(event)});
  }

  std::vector<Behaviour> workers_;
  std::priority_queue<Scheduled> events_;
  std::set<int> gone_;
  std::map<int, int> runs_;
  const Clock::time_point start_ = Clock::now();
  milliseconds elapsed_{0};
  int64_t order_ = 0;
  int runs_sent_ = 0;
  int pause_after_runs_ = 0;
  std::deque<milliseconds> pauses_;
  int pauses_taken_ = 0;
};

struct ClockRun {
  RunSummary summary;
  std::vector<TrialRecord> trials;
  std::string progress;
  std::string error;  // what ended the run, if it failed
};

// Runs the coordinator over `workers` on their clock; with `expected_workers`, losing them all
// ends the run with an error (kept in `error`) instead of a wait.
ClockRun RunSimulated(const StudySpec& spec, SimulatedWorkers& workers, int expected_workers = 0) {
  auto store = Store::OpenForWriting(spec.storage);
  std::ostringstream progress;
  CoordinatorOptions options;
  options.now = [&workers] { return workers.Now(); };
  options.progress = &progress;
  options.expected_workers = expected_workers;
  Coordinator coordinator(spec, *store, workers, options);
  ClockRun run;
  try {
    run.summary = coordinator.Run();
  } catch (const std::runtime_error& e) {
    run.error = e.what();
    run.summary.study_id = 1;
  }
  run.trials = store->Trials(run.summary.study_id);
  run.progress = progress.str();
  return run;
}

}  // namespace

TEST_CASE("a worker silent for longer than the heartbeat timeout is lost and its trial retried",
          "[orchestrator][coordinator][clock]") {
  const StudySpec spec = ClockStudy(4, 3);
  Behaviour hangs;
  hangs.hang_in_trial = 0;
  SimulatedWorkers workers({hangs, Behaviour{}});
  const ClockRun run = RunSimulated(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("worker sim1 lost: no message for 3s"));
  CHECK(run.summary.complete == 4);
  REQUIRE(run.trials.size() == 4);
  CHECK(run.trials[0].retries == 1);  // the hung worker's trial, rerun on the other worker
  CHECK(run.trials[0].worker == "sim2");
  for (size_t i = 1; i < run.trials.size(); ++i) CHECK(run.trials[i].retries == 0);
  // Lost once silent for 3 s, within one poll interval of it: not before, not much later.
  CHECK(workers.elapsed() >= milliseconds(3000));
}

TEST_CASE("a busy worker that keeps sending heartbeats is never lost, however long its trial",
          "[orchestrator][coordinator][clock]") {
  const StudySpec spec = ClockStudy(2, 2);
  Behaviour slow;
  slow.trial = milliseconds(30000);  // 15 heartbeat timeouts
  slow.heartbeat = milliseconds(500);
  SimulatedWorkers workers({slow});
  const ClockRun run = RunSimulated(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, !Catch::Contains("lost"));
  CHECK(run.summary.complete == 2);
  CHECK(workers.elapsed() >= milliseconds(60000));
}

TEST_CASE("the time budget stops new trials from starting and lets running ones finish",
          "[orchestrator][coordinator][clock]") {
  // Two workers, 10 s per trial, a 25 s budget: trials start at 0, 10 and 20 s (two each); at
  // 30 s the budget is spent and nothing new starts.
  StudySpec spec = ClockStudy(1000, 60);
  spec.budget.time_s = 25;
  Behaviour ten_seconds;
  ten_seconds.trial = milliseconds(10000);
  SimulatedWorkers workers({ten_seconds, ten_seconds});
  const ClockRun run = RunSimulated(spec, workers);
  CHECK(run.summary.stop_reason == "time budget spent");
  CHECK(run.summary.trials == 6);
  CHECK(run.summary.complete == 6);
}

TEST_CASE("a lost worker's trial becomes STALE and is retried elsewhere",
          "[orchestrator][coordinator][clock]") {
  const StudySpec spec = ClockStudy(3, 30);
  Behaviour crashes;
  crashes.lost_at = milliseconds(500);  // mid-way through its first trial
  SimulatedWorkers workers({crashes, Behaviour{}});
  const ClockRun run = RunSimulated(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("trial 0 is STALE; it will be retried"));
  CHECK(run.summary.complete == 3);
  int retried = 0;
  for (const auto& t : run.trials) {
    CHECK(t.state == TrialState::kComplete);
    retried += t.retries;
  }
  CHECK(retried == 1);
}

TEST_CASE("a trial STALE with no retries left counts once among the ended trials",
          "[orchestrator][coordinator][clock]") {
  StudySpec spec = ClockStudy(3, 30);
  spec.resources.max_retries = 0;
  Behaviour crashes;
  crashes.lost_at = milliseconds(500);  // mid-way through trial 0
  SimulatedWorkers workers({crashes, Behaviour{}});
  const ClockRun run = RunSimulated(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("trial 0 is STALE; no retries left"));
  // Trial 0 ended first, for good: the two trials that complete after it are the 2nd and 3rd.
  CHECK_THAT(run.progress, Catch::Contains("[   2/3] trial 1 COMPLETE"));
  CHECK_THAT(run.progress, Catch::Contains("[   3/3] trial 2 COMPLETE"));
  CHECK(run.summary.finished_this_run == 3);
  CHECK(run.summary.stale == 1);
  CHECK(run.summary.complete == 2);
}

TEST_CASE("a grid study's progress counts the trials the grid holds, not the budget",
          "[orchestrator][coordinator][clock]") {
  StudySpec spec = ClockStudy(100, 30);
  spec.sampler.type = SamplerType::kGrid;
  spec.space.params[0].kind = ParamKind::kChoice;
  spec.space.params[0].choices = {0.01, 0.02, 0.03, 0.04};
  SimulatedWorkers workers({Behaviour{}});
  const ClockRun run = RunSimulated(spec, workers);
  INFO(run.progress);
  CHECK(run.summary.trials == 4);
  CHECK_THAT(run.progress, Catch::Contains("[   4/4] trial"));
  CHECK_THAT(run.progress, !Catch::Contains("/100]"));
}

TEST_CASE("messages that arrived while the coordinator was paused are read before heartbeats",
          "[orchestrator][coordinator][clock][pause]") {
  // Two pauses in a row, each shorter than the 1 s timeout but together longer, while both
  // workers are busy: their heartbeats wait unread through each, and only reading them first
  // keeps the workers alive (the pauses are too short for a fresh timeout).
  const StudySpec spec = ClockStudy(4, 1);
  Behaviour busy;
  busy.trial = milliseconds(2000);
  busy.heartbeat = milliseconds(200);
  SimulatedWorkers workers({busy, busy});
  workers.PauseAfter(2, {milliseconds(600), milliseconds(600)});
  const ClockRun run = RunSimulated(spec, workers, 2);
  INFO(run.progress);
  CHECK(workers.pauses_taken() == 2);
  CHECK_THAT(run.progress, !Catch::Contains("lost"));
  CHECK(run.summary.complete == 4);
  for (const auto& t : run.trials) CHECK(t.retries == 0);
}

TEST_CASE("a coordinator paused for longer than the heartbeat timeout loses no worker",
          "[orchestrator][coordinator][clock][pause]") {
  // 5 s of the coordinator's clock pass at once while the workers are mid-trial: none of them
  // could have been heard, none is lost.
  const StudySpec spec = ClockStudy(4, 1);
  Behaviour busy;
  busy.trial = milliseconds(3000);
  busy.heartbeat = milliseconds(200);
  SimulatedWorkers workers({busy, busy});
  workers.PauseAfter(2, {milliseconds(5000)});
  const ClockRun run = RunSimulated(spec, workers, 2);
  INFO(run.progress);
  CHECK(workers.pauses_taken() == 1);
  CHECK_THAT(run.progress, !Catch::Contains("lost"));
  CHECK(run.summary.complete == 4);
  for (const auto& t : run.trials) CHECK(t.retries == 0);
}

TEST_CASE("a worker that stops answering is still declared lost while the clock runs on",
          "[orchestrator][coordinator][clock][pause]") {
  // The clock jumps 0.4 s per round, less than the 1 s timeout: no round looks like a pause of
  // the coordinator, and the silent worker is lost after a few rounds.
  const StudySpec spec = ClockStudy(2, 1);
  Behaviour hangs;
  hangs.hang_in_trial = 0;
  SimulatedWorkers workers({hangs});
  workers.PauseAfter(1, std::deque<milliseconds>(20, milliseconds(400)));
  const ClockRun run = RunSimulated(spec, workers, 1);
  INFO(run.progress);
  CHECK_THAT(run.error, Catch::Contains("every worker exited"));
  CHECK_THAT(run.progress, Catch::Contains("worker sim1 lost: no message for 1s"));
  CHECK(workers.pauses_taken() <= 5);  // lost within the first rounds past the timeout
  REQUIRE(!run.trials.empty());
  CHECK(run.trials[0].state == TrialState::kStale);
  CHECK_THAT(run.trials[0].error, Catch::Contains("no message for 1s"));
}
