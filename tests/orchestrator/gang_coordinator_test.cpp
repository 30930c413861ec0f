// Gang trials (orchestrator/gang.h) at the coordinator, on a simulated clock: the test plays the
// workers, each message happens at a point of simulated time, and every message the coordinator
// sends is logged with its time, so that scheduling, the rendezvous, epoch answers and aborts are
// checked exactly and nothing sleeps.
#include <catch2/catch.hpp>
#include <map>
#include <queue>
#include <set>
#include <sstream>

#include "core/store.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/gang.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// A study of the lr space (val_macro_f1 = 1 - lr) with `extra` merged over it.
StudySpec GangStudy(int64_t trials, int epochs, const Json& extra = Json::object()) {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_gang_test", std::to_string(counter++));
  Json doc = {{"study", "gang"},
              {"storage", (dir / "s.sqlite").string()},
              {"artifacts", (dir / "artifacts").string()},
              {"data", {{"train", "/unused"}}},
              {"budget", {{"trials", trials}, {"epochs", epochs}}},
              {"sampler", {{"seed", 5}}},
              {"resources", {{"heartbeat_timeout", 60}}},
              {"space", {{"lr", {{"log_uniform", {1e-3, 1.0}}}}}}};
  doc.merge_patch(extra);
  return ParseStudy(doc, "test", "/");
}

// How a simulated worker behaves.
struct SimWorker {
  milliseconds epoch{1000};           // each epoch takes this long
  milliseconds lost_at{-1};           // the connection drops at this time
  milliseconds interrupted_at{-1};    // gives its trial back (INTERRUPTED) then, and leaves
  milliseconds rendezvous_after{10};  // rank 0 sends RENDEZVOUS this long after its RUN
  bool rendezvous_as_member = false;  // sends RENDEZVOUS when it is not rank 0 (misbehaves)
  bool artifacts_as_member = false;   // its DONE has an artifact when it is not rank 0
  bool smuggles = false;              // answers ABORT with a REPORT and a DONE of a perfect score
};

// What the coordinator sent, and when.
struct Sent {
  milliseconds at{0};
  int peer = 0;
  std::string type;
  int64_t trial = -1;
  msg::Run run;      // RUN
  std::string text;  // RENDEZVOUS blob, ABORT reason
};

class GangWorkers : public CoordinatorTransport {
 public:
  explicit GangWorkers(std::vector<SimWorker> workers) : workers_(std::move(workers)) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      const int peer = static_cast<int>(i) + 1;
      Deliver(milliseconds(0), peer,
              msg::Encode(msg::Hello{kProtocolVersion, "sim" + std::to_string(peer), "host", 1}));
      if (workers_[i].interrupted_at.count() >= 0) {
        TransportEvent left;
        left.kind = TransportEvent::Kind::kLost;
        left.peer = peer;
        left.reason = "connection closed";
        Schedule(workers_[i].interrupted_at + milliseconds(5), std::move(left), -1);
      }
      if (workers_[i].lost_at.count() >= 0) {
        TransportEvent lost;
        lost.kind = TransportEvent::Kind::kLost;
        lost.peer = peer;
        lost.reason = "simulated crash";
        Schedule(workers_[i].lost_at, std::move(lost), -1);
      }
    }
  }

  Clock::time_point Now() const { return start_ + elapsed_; }
  const std::vector<Sent>& sent() const { return sent_; }
  // When each DONE reached the coordinator, by trial and peer.
  const std::map<std::pair<int64_t, int>, milliseconds>& done_at() const { return done_at_; }

  std::vector<Sent> SentOf(const std::string& type) const {
    std::vector<Sent> out;
    for (const Sent& s : sent_) {
      if (s.type == type) out.push_back(s);
    }
    return out;
  }

  std::optional<TransportEvent> Poll(milliseconds timeout) override {
    while (!events_.empty()) {
      const Scheduled next = events_.top();
      if (next.at > elapsed_ + timeout) break;
      events_.pop();
      elapsed_ = std::max(elapsed_, next.at);
      const int peer = next.event.peer;
      if (gone_.count(peer)) continue;
      if (next.generation >= 0 && next.generation != state_[peer].generation) continue;
      if (next.event.kind == TransportEvent::Kind::kLost) gone_.insert(peer);
      if (next.event.message.type == msg::kDone) {
        done_at_[{next.event.message.body["trial"].get<int64_t>(), peer}] = elapsed_;
      }
      return next.event;
    }
    elapsed_ += timeout;
    return std::nullopt;
  }

  void Send(int peer, const Message& message) override {
    if (gone_.count(peer)) return;
    Sent sent;
    sent.at = elapsed_;
    sent.peer = peer;
    sent.type = message.type;
    if (message.body.contains("trial")) sent.trial = message.body["trial"].get<int64_t>();
    const SimWorker& worker = workers_[static_cast<size_t>(peer - 1)];
    State& state = state_[peer];
    if (message.type == msg::kWelcome) {
      Deliver(elapsed_, peer, msg::Encode(msg::Ready{"sim", true}));
    } else if (message.type == msg::kHeartbeat) {
      Deliver(elapsed_, peer, msg::Encode(msg::Heartbeat{}));
    } else if (message.type == msg::kRun) {
      sent.run = msg::DecodeRun(message);
      OnRun(peer, worker, state, sent.run);
    } else if (message.type == msg::kRendezvous) {
      sent.text = msg::DecodeRendezvous(message).blob;
      Later(peer, worker.epoch, Report(state));
    } else if (message.type == msg::kContinue) {
      if (state.epoch < state.run.epochs) {
        ++state.epoch;
        Later(peer, worker.epoch, Report(state));
      } else {
        Finish(peer, worker, state, false);
      }
    } else if (message.type == msg::kStop) {
      Finish(peer, worker, state, true);
    } else if (message.type == msg::kAbort) {
      sent.text = msg::DecodeAbort(message).reason;
      ++state.generation;  // what it had scheduled for the trial is never sent
      if (worker.smuggles) {
        const MetricMap perfect = {{"val_macro_f1", 123.0}};
        Later(peer, milliseconds(1), msg::Encode(msg::Report{state.run.trial, 1, perfect}));
        Later(peer, milliseconds(2),
              msg::Encode(msg::Done{state.run.trial, perfect, {}, 1, false}));
      } else {
        Later(peer, milliseconds(1), msg::Encode(msg::Fail{state.run.trial, "aborted"}));
      }
    }
    sent_.push_back(std::move(sent));
  }

  void Disconnect(int peer) override { gone_.insert(peer); }
  std::string Endpoint() const override { return "simulated"; }

 private:
  struct State {
    msg::Run run;
    int rank = 0;
    int epoch = 1;
    int generation = 0;  // bumped per RUN and ABORT
  };
  struct Scheduled {
    milliseconds at;
    int64_t order;
    TransportEvent event;
    int generation;  // -1: always delivered
    bool operator<(const Scheduled& other) const {
      return at != other.at ? at > other.at : order > other.order;
    }
  };

  void OnRun(int peer, const SimWorker& worker, State& state, const msg::Run& run) {
    state.run = run;
    state.rank = run.gang ? run.gang->rank : 0;
    state.epoch = 1;
    ++state.generation;
    if (worker.interrupted_at > elapsed_) {
      TransportEvent interrupted;
      interrupted.peer = peer;
      interrupted.message = msg::Encode(msg::Interrupted{run.trial, "stopped by signal"});
      Schedule(worker.interrupted_at, std::move(interrupted), state.generation);
    }
    if (!run.gang) {
      Later(peer, worker.epoch, Report(state));
    } else if (state.rank == 0) {
      // Busy until it has its communicator: heartbeats meanwhile, as KeepAlive sends them.
      for (milliseconds beat(500); beat < worker.rendezvous_after; beat += milliseconds(500)) {
        Later(peer, beat, msg::Encode(msg::Heartbeat{}));
      }
      Later(peer, worker.rendezvous_after,
            msg::Encode(msg::Rendezvous{run.trial, "blob-" + run.gang->key}));
      Later(peer, worker.rendezvous_after + worker.epoch, Report(state));
    } else if (worker.rendezvous_as_member) {
      Later(peer, milliseconds(1), msg::Encode(msg::Rendezvous{run.trial, "not mine to send"}));
    }
  }

  Message Report(const State& state) const {
    const double value = 1.0 - state.run.params.value("lr", 0.5);
    return msg::Encode(msg::Report{state.run.trial, state.epoch, {{"val_macro_f1", value}}});
  }

  void Finish(int peer, const SimWorker& worker, const State& state, bool stopped) {
    const double value = 1.0 - state.run.params.value("lr", 0.5);
    msg::Done done{state.run.trial, {{"val_macro_f1", value}}, {}, state.epoch, stopped};
    if (state.rank > 0 && worker.artifacts_as_member) {
      done.artifacts.push_back(ArtifactRecord{"checkpoint", "model.pt", 1, ""});
    }
    // Other members end first, so that rank 0's DONE is not what decides every case.
    Later(peer, milliseconds(state.rank > 0 ? 1 : 2), msg::Encode(done));
  }

  // From the worker, `after` from now, unless its trial changes first.
  void Later(int peer, milliseconds after, Message message) {
    TransportEvent event;
    event.peer = peer;
    event.message = std::move(message);
    Schedule(elapsed_ + after, std::move(event), state_[peer].generation);
  }
  void Deliver(milliseconds at, int peer, Message message) {
    TransportEvent event;
    event.peer = peer;
    event.message = std::move(message);
    Schedule(at, std::move(event), -1);
  }
  void Schedule(milliseconds at, TransportEvent event, int generation) {
    events_.push(Scheduled{at, order_++, std::move(event), generation});
  }

  std::vector<SimWorker> workers_;
  std::map<int, State> state_;
  std::priority_queue<Scheduled> events_;
  std::set<int> gone_;
  std::vector<Sent> sent_;
  std::map<std::pair<int64_t, int>, milliseconds> done_at_;
  const Clock::time_point start_ = Clock::now();
  milliseconds elapsed_{0};
  int64_t order_ = 0;
};

struct GangRun {
  RunSummary summary;
  std::vector<TrialRecord> trials;
  std::string progress;
};

GangRun RunGangs(const StudySpec& spec, GangWorkers& workers, int expected_workers = 0) {
  auto store = Store::OpenForWriting(spec.storage);
  std::ostringstream progress;
  CoordinatorOptions options;
  options.now = [&workers] { return workers.Now(); };
  options.progress = &progress;
  options.expected_workers = expected_workers;
  Coordinator coordinator(spec, *store, workers, options);
  GangRun run;
  run.summary = coordinator.Run();
  run.trials = store->Trials(run.summary.study_id);
  run.progress = progress.str();
  return run;
}

// The RUN messages of trial `number`, in the order sent.
std::vector<Sent> RunsOf(const GangWorkers& workers, int64_t number) {
  std::vector<Sent> runs;
  for (const Sent& s : workers.SentOf(msg::kRun)) {
    if (s.trial == number) runs.push_back(s);
  }
  return runs;
}

}  // namespace

TEST_CASE("gang members are chosen on one host when one has enough, rank 0 deterministically",
          "[orchestrator][gang]") {
  const std::vector<GangCandidate> idle = {{1, "a"}, {2, "b"}, {3, "a"},
                                           {4, "b"}, {5, "b"}, {6, "c"}};
  CHECK(ChooseGangMembers(idle, 3) == std::vector<int>{2, 4, 5});  // only b has 3
  CHECK(ChooseGangMembers(idle, 2) == std::vector<int>{1, 3});     // a and b fit; a's 1 is lower
  CHECK(ChooseGangMembers(idle, 5) == std::vector<int>{2, 4, 5, 1, 3});  // most-idle hosts first
  std::vector<GangCandidate> reversed(idle.rbegin(), idle.rend());
  CHECK(ChooseGangMembers(reversed, 5) == ChooseGangMembers(idle, 5));
}

TEST_CASE("a study mixing 1-slot and 2-slot trials runs every trial to the end",
          "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(10, 2, {{"space", {{"slots_per_trial", {{"choice", {1, 2}}}}}}});
  GangWorkers workers({SimWorker{}, SimWorker{milliseconds(700)}, SimWorker{milliseconds(1300)}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK(run.summary.complete == 10);
  int gangs = 0, singles = 0;
  for (const TrialRecord& trial : run.trials) {
    const std::vector<Sent> runs = RunsOf(workers, trial.number);
    if (trial.params["slots_per_trial"] == 2) {
      ++gangs;
      REQUIRE(runs.size() == 2);
      REQUIRE(runs[0].run.gang);
      REQUIRE(runs[1].run.gang);
      CHECK(runs[0].peer != runs[1].peer);
      CHECK(runs[0].run.gang->rank == 0);
      CHECK(runs[1].run.gang->rank == 1);
      CHECK(runs[0].run.gang->key == runs[1].run.gang->key);
      // The store lists the gang's workers by rank.
      CHECK(trial.worker ==
            "sim" + std::to_string(runs[0].peer) + ", sim" + std::to_string(runs[1].peer));
    } else {
      ++singles;
      REQUIRE(runs.size() == 1);
      CHECK_FALSE(runs[0].run.gang);
    }
  }
  CHECK(gangs > 0);
  CHECK(singles > 0);
}

TEST_CASE(
    "a gang at the head of the queue starts in the round its last member frees up, before "
    "any later trial",
    "[orchestrator][gang]") {
  const Json extra = {{"space", {{"slots_per_trial", {{"choice", {1, 3}}}}}},
                      {"enqueue",
                       {{{"lr", 0.01}, {"slots_per_trial", 1}},
                        {{"lr", 0.02}, {"slots_per_trial", 1}},
                        {{"lr", 0.03}, {"slots_per_trial", 1}},
                        {{"lr", 0.04}, {"slots_per_trial", 3}},
                        {{"lr", 0.05}, {"slots_per_trial", 1}},
                        {{"lr", 0.06}, {"slots_per_trial", 1}}}}};
  const StudySpec spec = GangStudy(6, 1, extra);
  // Trials 0, 1 and 2 end at 1, 2 and 3 s: without the reservation, trial 4 would take the
  // first worker freed and the gang would wait for it.
  GangWorkers workers({SimWorker{milliseconds(1000)}, SimWorker{milliseconds(2000)},
                       SimWorker{milliseconds(3000)}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK(run.summary.complete == 6);
  const std::vector<Sent> gang = RunsOf(workers, 3);
  REQUIRE(gang.size() == 3);
  const milliseconds last_freed = workers.done_at().at({2, 3});
  for (const Sent& s : gang) CHECK(s.at == last_freed);
  for (int64_t later : {4, 5}) {
    const std::vector<Sent> runs = RunsOf(workers, later);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].at >= last_freed);
  }
  // In the order sent, every RUN of the gang comes before the later trials'.
  std::vector<int64_t> order;
  for (const Sent& s : workers.SentOf(msg::kRun)) order.push_back(s.trial);
  CHECK(order == std::vector<int64_t>{0, 1, 2, 3, 3, 3, 4, 5});
}

TEST_CASE(
    "a lost gang member aborts the attempt: the others are freed, the trial goes STALE and "
    "its retry completes",
    "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(2, 3, {{"resources", {{"slots_per_trial", 2}}}});
  SimWorker lost;
  lost.lost_at = milliseconds(1500);
  GangWorkers workers({SimWorker{}, lost, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("worker sim2 lost"));
  REQUIRE(run.trials.size() == 2);
  CHECK(run.summary.complete == 2);
  CHECK(run.trials[0].retries == 1);
  CHECK(run.trials[0].worker == "sim1, sim3");
  const std::vector<Sent> aborts = workers.SentOf(msg::kAbort);
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].peer == 1);
  CHECK(aborts[0].trial == 0);
  CHECK_THAT(aborts[0].text, Catch::Contains("gang rank 1 (worker sim2) lost"));
  // Two attempts of trial 0, each with its own key.
  const std::vector<Sent> runs = RunsOf(workers, 0);
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].run.gang->key == runs[1].run.gang->key);
  CHECK(runs[2].run.gang->key == runs[3].run.gang->key);
  CHECK(runs[0].run.gang->key != runs[2].run.gang->key);
}

TEST_CASE(
    "a prune reaches every gang member as STOP for the same epoch, even one that reported "
    "it before rank 0",
    "[orchestrator][gang]") {
  const Json extra = {{"resources", {{"slots_per_trial", 2}}},
                      {"pruner", {{"type", "median"}, {"startup_trials", 2}, {"min_epochs", 1}}},
                      {"enqueue", {{{"lr", 0.01}}, {{"lr", 0.02}}, {{"lr", 0.9}}}}};
  const StudySpec spec = GangStudy(3, 3, extra);
  // Rank 1 (sim2) trains faster: its report of each epoch waits for rank 0's.
  GangWorkers workers({SimWorker{milliseconds(1000)}, SimWorker{milliseconds(400)}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  REQUIRE(run.trials.size() == 3);
  CHECK(run.trials[2].state == TrialState::kPruned);
  const std::vector<Sent> stops = workers.SentOf(msg::kStop);
  REQUIRE(stops.size() == 2);
  std::set<int> peers;
  for (const Sent& s : stops) {
    CHECK(s.trial == 2);
    peers.insert(s.peer);
  }
  CHECK(peers == std::set<int>{1, 2});
  CHECK(stops[0].at == stops[1].at);  // rank 1's answer waited for rank 0's report
  // Nobody was told to go on with trial 2.
  for (const Sent& s : workers.SentOf(msg::kContinue)) CHECK(s.trial != 2);
}

TEST_CASE(
    "rank 0's rendezvous blob is relayed to every other member, which is kept alive while "
    "it waits",
    "[orchestrator][gang]") {
  Json extra = {{"resources", {{"slots_per_trial", 3}, {"heartbeat_timeout", 3}}}};
  const StudySpec spec = GangStudy(1, 1, extra);
  SimWorker slow_rendezvous;
  slow_rendezvous.rendezvous_after = milliseconds(8000);  // far beyond the heartbeat timeout
  GangWorkers workers({slow_rendezvous, SimWorker{}, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK(run.summary.complete == 1);
  CHECK_THAT(run.progress, !Catch::Contains("lost"));
  const std::vector<Sent> runs = RunsOf(workers, 0);
  REQUIRE(runs.size() == 3);
  const std::vector<Sent> relayed = workers.SentOf(msg::kRendezvous);
  REQUIRE(relayed.size() == 2);
  std::set<int> peers;
  for (const Sent& s : relayed) {
    CHECK(s.text == "blob-" + runs[0].run.gang->key);
    CHECK(s.at == milliseconds(8000));
    peers.insert(s.peer);
  }
  CHECK(peers == std::set<int>{runs[1].peer, runs[2].peer});
}

TEST_CASE(
    "a gang member other than rank 0 that sends RENDEZVOUS is disconnected and the trial "
    "retried",
    "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(1, 1, {{"resources", {{"slots_per_trial", 2}}}});
  SimWorker rogue;
  rogue.rendezvous_as_member = true;
  GangWorkers workers({SimWorker{}, rogue, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("worker sim2 lost: protocol error: RENDEZVOUS from "
                                           "gang rank 1; only rank 0 sends it"));
  REQUIRE(run.trials.size() == 1);
  CHECK(run.trials[0].state == TrialState::kComplete);
  CHECK(run.trials[0].retries == 1);
  CHECK(run.trials[0].worker == "sim1, sim3");
  for (const Sent& s : workers.SentOf(msg::kRendezvous)) CHECK(s.peer != 1);
}

TEST_CASE("a gang member other than rank 0 whose DONE carries artifacts is disconnected",
          "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(1, 1, {{"resources", {{"slots_per_trial", 2}}}});
  SimWorker rogue;
  rogue.artifacts_as_member = true;
  GangWorkers workers({SimWorker{}, rogue, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("DONE with artifacts from gang rank 1; only rank 0 "
                                           "sends them"));
  REQUIRE(run.trials.size() == 1);
  CHECK(run.trials[0].state == TrialState::kComplete);
  CHECK(run.trials[0].retries == 1);
  CHECK(run.trials[0].worker == "sim1, sim3");
}

TEST_CASE("a trial asking for more slots than the run's workers fails at once instead of waiting",
          "[orchestrator][gang]") {
  const Json extra = {
      {"space", {{"slots_per_trial", {{"choice", {1, 3}}}}}},
      {"enqueue",
       {{{"lr", 0.01}, {"slots_per_trial", 3}}, {{"lr", 0.02}, {"slots_per_trial", 1}}}}};
  const StudySpec spec = GangStudy(2, 1, extra);
  GangWorkers workers({SimWorker{}, SimWorker{}});
  const GangRun run = RunGangs(spec, workers, 2);
  INFO(run.progress);
  REQUIRE(run.trials.size() == 2);
  CHECK(run.trials[0].state == TrialState::kFailed);
  CHECK_THAT(run.trials[0].error, Catch::Contains("slots_per_trial is 3, but this run has 2 "
                                                  "workers"));
  CHECK(run.trials[1].state == TrialState::kComplete);
  CHECK(RunsOf(workers, 0).empty());
}

TEST_CASE("what a member of an aborted attempt sends after its ABORT is not recorded and frees it",
          "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(1, 3, {{"resources", {{"slots_per_trial", 2}}}});
  SimWorker smuggler;
  smuggler.smuggles = true;
  SimWorker lost;
  lost.lost_at = milliseconds(1500);
  GangWorkers workers({smuggler, lost, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  REQUIRE(run.trials.size() == 1);
  CHECK(run.trials[0].state == TrialState::kComplete);
  CHECK(run.trials[0].retries == 1);
  REQUIRE(run.trials[0].value);
  CHECK(*run.trials[0].value < 1.0);  // the retry's, not the smuggled 123
  CHECK_THAT(run.progress, !Catch::Contains("protocol error"));
  // The smuggler was freed by its DONE and is rank 0 of the retry.
  CHECK(run.trials[0].worker == "sim1, sim3");
  auto store = Store::OpenReadOnly(spec.storage);
  for (const EpochRecord& epoch : store->Epochs(run.trials[0].id)) {
    CHECK(epoch.metrics.at("val_macro_f1") < 1.0);
  }
}

TEST_CASE("a gang member stopped by a signal ends its attempt and the trial runs again uncharged",
          "[orchestrator][gang]") {
  const StudySpec spec = GangStudy(2, 3, {{"resources", {{"slots_per_trial", 2}}}});
  SimWorker leaver;
  leaver.interrupted_at = milliseconds(1500);  // in its first trial's second epoch
  GangWorkers workers({leaver, SimWorker{}, SimWorker{}});
  const GangRun run = RunGangs(spec, workers);
  INFO(run.progress);
  CHECK_THAT(run.progress, Catch::Contains("given back by worker sim1"));
  CHECK(workers.SentOf(msg::kAbort).size() == 1);  // to the other member of its attempt
  REQUIRE(run.trials.size() == 2);
  for (const TrialRecord& t : run.trials) {
    INFO("trial " << t.number);
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.retries == 0);
    CHECK(t.worker.find("sim1") == std::string::npos);
  }
}
