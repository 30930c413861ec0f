// Neither side of the protocol is crashed or misled by what its peer sends: the real coordinator
// against a rogue peer (every message type with every field of every other JSON type, malformed
// text, a second HELLO, messages before HELLO, artifacts outside the trial's folder), and the
// real worker loop against a rogue or silent coordinator, over the in-process transport.
#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "core/store.h"
#include "fake_trainer.h"
#include "objective_harness.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/in_process_transport.h"
#include "orchestrator/worker_loop.h"
#include "tests/orchestrator/json_kinds.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;
using ensweep::testing::FakeTrainer;
using ensweep::testing::ObjectiveStudy;
using Clock = std::chrono::steady_clock;

namespace {

const Json kBraninSpace = {{"x1", {{"uniform", {-5, 10}}}}, {"x2", {{"uniform", {0, 15}}}}};

using test::Kind;
const auto& kSamples = test::JsonSamples();  // one value of every JSON type

// The next message other than HEARTBEAT; the channel's receive timeout bounds the wait.
Message NextMessage(InProcessChannel& channel) {
  while (true) {
    Message m = channel.Receive();
    if (m.type != msg::kHeartbeat) return m;
  }
}

// Waits until the coordinator closes the channel. Returns the reason of a SHUTDOWN received
// first ("" if none); fails the test if anything else arrives or it stays silent.
std::string ExpectClosed(InProcessChannel& channel) {
  std::string reason;
  while (true) {
    Message m;
    try {
      m = channel.Receive();
    } catch (const ChannelClosed& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find("closed") != std::string::npos);  // not a timeout
      return reason;
    }
    if (m.type == msg::kShutdown) {
      reason = msg::DecodeShutdown(m).reason;
    } else if (m.type != msg::kHeartbeat) {
      FAIL("unexpected " << m.type << " instead of a disconnection");
    }
  }
}

// A peer that speaks the protocol by hand.
std::unique_ptr<InProcessChannel> Connect(InProcessHub& hub) {
  auto channel = hub.Connect(/*honour_receive_timeout=*/true);
  channel->SetReceiveTimeout(std::chrono::seconds(10));
  return channel;
}

// Says HELLO and READY and waits for a trial; returns its RUN.
msg::Run HoldTrial(InProcessChannel& channel, const std::string& name) {
  channel.Send(msg::Encode(msg::Hello{kProtocolVersion, name, "rogue-host", 1}));
  const Message welcome = NextMessage(channel);
  REQUIRE(welcome.type == msg::kWelcome);
  channel.Send(msg::Encode(msg::Ready{"none", false}));
  const Message run = NextMessage(channel);
  REQUIRE(run.type == msg::kRun);
  return msg::DecodeRun(run);
}

// What a rogue peer sends while it holds a trial: a message built from the RUN it got, or raw
// text.
using Build = std::function<Message(const msg::Run&)>;

struct RogueCase {
  RogueCase(std::string what_, Build message_, std::string text_ = "")
      : what(std::move(what_)), message(std::move(message_)), text(std::move(text_)) {}
  std::string what;
  Build message;  // null: send `text`
  std::string text;
};

// A valid message of each type, for the trial of `run`.
std::vector<Build> ValidMessages() {
  return {
      [](const msg::Run&) {
        return msg::Encode(msg::Hello{kProtocolVersion, "rogue", "h", 1});
      },
      [](const msg::Run&) {
        return msg::Encode(msg::Welcome{Json{{"study", "s"}}});
      },
      [](const msg::Run&) {
        return msg::Encode(msg::Ready{"cpu", false});
      },
      [](const msg::Run& r) { return msg::Encode(r); },
      [](const msg::Run& r) {
        return msg::Encode(msg::Report{r.trial, 1, {{"value", 0.5}}});
      },
      [](const msg::Run& r) { return msg::Encode(msg::Continue{r.trial}); },
      [](const msg::Run& r) { return msg::Encode(msg::Stop{r.trial}); },
      [](const msg::Run& r) {
        const ArtifactRecord artifact{"checkpoint", r.artifact_dir + "/model.pt", 10, "fnv1a64:0"};
        return msg::Encode(msg::Done{r.trial, {{"value", 0.5}}, {artifact}, 2, false});
      },
      [](const msg::Run& r) {
        return msg::Encode(msg::Fail{r.trial, "boom"});
      },
      [](const msg::Run&) { return msg::Encode(msg::Heartbeat{}); },
      [](const msg::Run&) { return msg::Encode(msg::Shutdown{"go away"}); },
  };
}

Build Changed(Build base, std::function<void(Json&, const msg::Run&)> change) {
  return [base, change](const msg::Run& run) {
    Message m = base(run);
    change(m.body, run);
    return m;
  };
}

// Every message type from a peer holding a trial: those workers do not send, and each field
// missing or of another JSON type.
void AddFieldCases(const std::vector<Build>& valid, std::vector<RogueCase>& cases) {
  const msg::Run example{0, Json::object(), 1, 2, "/a/trial-00000", std::nullopt};
  for (const Build& build : valid) {
    const Message sample = build(example);
    const bool accepted = sample.type == msg::kReady || sample.type == msg::kReport ||
                          sample.type == msg::kDone || sample.type == msg::kFail ||
                          sample.type == msg::kHeartbeat;
    if (!accepted) cases.push_back({"a valid " + sample.type + " (not a worker's message)", build});
    for (const auto& item : sample.body.items()) {
      const std::string field = item.key();
      cases.push_back(
          {sample.type + " without " + field,
           Changed(build, [field](Json& body, const msg::Run&) { body.erase(field); })});
      for (const auto& [kind, value] : kSamples) {
        if (kind == Kind(item.value())) continue;
        cases.push_back({sample.type + " with " + field + " as " + kind,
                         Changed(build, [field, value = value](Json& body, const msg::Run&) {
                           body[field] = value;
                         })});
      }
    }
  }
}

std::vector<RogueCase> HoldingCases(int budget_epochs) {
  std::vector<RogueCase> cases;
  const std::vector<Build> valid = ValidMessages();
  AddFieldCases(valid, cases);
  const Build report = valid[4], done = valid[7], fail = valid[8];
  const auto set = [](Build base, const std::string& pointer, Json value) {
    return Changed(std::move(base), [pointer, value](Json& body, const msg::Run&) {
      body[Json::json_pointer(pointer)] = value;
    });
  };
  for (const auto& [kind, value] : kSamples) {
    if (kind != "integer" && kind != "fraction") {
      cases.push_back({"REPORT with a metric as " + kind, set(report, "/metrics/value", value)});
      cases.push_back({"DONE with a metric as " + kind, set(done, "/metrics/value", value)});
    }
    if (kind != "object") {
      cases.push_back({"DONE with an artifact as " + kind, set(done, "/artifacts/0", value)});
    }
    for (const char* member : {"kind", "path", "size_bytes", "checksum"}) {
      const std::string expected = std::string(member) == "size_bytes" ? "integer" : "string";
      if (kind == expected) continue;
      cases.push_back({"DONE with artifacts[0]." + std::string(member) + " as " + kind,
                       set(done, "/artifacts/0/" + std::string(member), value)});
    }
  }
  const auto trial_plus = [](Build base, int64_t delta) {
    return Changed(std::move(base),
                   [delta](Json& body, const msg::Run& run) { body["trial"] = run.trial + delta; });
  };
  cases.push_back({"REPORT for another trial", trial_plus(report, 1)});
  cases.push_back({"REPORT for trial -1", set(report, "/trial", -1)});
  cases.push_back({"DONE for another trial", trial_plus(done, 1)});
  cases.push_back({"FAIL for another trial", trial_plus(fail, 1)});
  cases.push_back({"REPORT at epoch 0", set(report, "/epoch", 0)});
  cases.push_back({"REPORT beyond the epoch budget", set(report, "/epoch", budget_epochs + 1)});
  cases.push_back({"DONE beyond the epoch budget", set(done, "/epochs", budget_epochs + 1)});
  cases.push_back({"DONE with size_bytes -1", set(done, "/artifacts/0/size_bytes", -1)});
  // Artifacts outside the trial's folder.
  const auto artifact_at = [done](std::function<std::string(const msg::Run&)> path) {
    return Changed(done, [path](Json& body, const msg::Run& run) {
      body["artifacts"][0]["path"] = path(run);
    });
  };
  cases.push_back({"DONE with an artifact at /etc/passwd",
                   artifact_at([](const msg::Run&) { return std::string("/etc/passwd"); })});
  cases.push_back(
      {"DONE with an artifact in another trial's folder",
       artifact_at([](const msg::Run& r) { return r.artifact_dir + "/../trial-09999/model.pt"; })});
  cases.push_back({"DONE with a relative artifact path upwards",
                   artifact_at([](const msg::Run&) { return std::string("../../x"); })});
  cases.push_back({"DONE with the trial's folder itself as an artifact",
                   artifact_at([](const msg::Run& r) { return r.artifact_dir; })});
  cases.push_back({"DONE with an artifact in a folder whose name extends the trial's",
                   artifact_at([](const msg::Run& r) { return r.artifact_dir + "1/model.pt"; })});
  for (const char* text : {"{not json", "[1,2]", "{\"type\": 5}", "", "null",
                           "{\"type\": \"REPORT\", \"trial\": 0", "\"REPORT\""}) {
    cases.push_back({std::string("the text ") + text, nullptr, text});
  }
  // Deeply nested JSON (parsed, refused and freed without recursion).
  const size_t depth = 200000;
  cases.push_back({"a REPORT whose trial is nested 200000 arrays deep", nullptr,
                   "{\"type\": \"REPORT\", \"trial\": " + std::string(depth, '[') +
                       std::string(depth, ']') + "}"});
  cases.push_back({"an unterminated nesting 200000 arrays deep", nullptr,
                   "{\"type\": \"REPORT\", \"trial\": " + std::string(depth, '[')});
  return cases;
}

// The number of rows of the store's workers table, all or with one name.
int64_t WorkerRows(const std::string& storage, const std::string& name = "") {
  SQLite::Database db(storage, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, name.empty() ? "SELECT COUNT(*) FROM workers"
                                       : "SELECT COUNT(*) FROM workers WHERE name = ?");
  if (!name.empty()) q.bind(1, name);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

// Runs a coordinator on its own thread; Wait() returns its summary or the text of what it threw.
// A test that ends before (a failed REQUIRE) stops it.
class CoordinatorThread {
 public:
  CoordinatorThread(const StudySpec& spec, Store& store, InProcessHub& hub)
      : coordinator_(spec, store, hub.coordinator(), Options()) {
    thread_ = std::thread([this] {
      try {
        summary_ = coordinator_.Run();
      } catch (const std::exception& e) {
        error_ = e.what();
      }
      done_ = true;
    });
  }
  ~CoordinatorThread() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }
  RunSummary Wait() {
    thread_.join();
    INFO("the coordinator threw: " << error_);
    CHECK(error_.empty());
    return summary_;
  }

 private:
  CoordinatorOptions Options() {
    CoordinatorOptions options;
    options.stop_requested = [this] { return stop_.load(); };
    return options;
  }

  std::atomic<bool> stop_{false};
  Coordinator coordinator_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  RunSummary summary_;
  std::string error_;
};

StudySpec RogueStudy(int64_t trials, int epochs) {
  Json doc = ObjectiveStudy("branin", kBraninSpace, trials, epochs);
  doc["resources"]["max_retries"] = 10000;  // every rogue takes the same trial and loses it
  // Slow enough that both ordinary workers join before the study ends.
  doc["trainer"]["epoch_time"] = 0.05;
  return ParseStudy(doc, "test", "/");
}

// A worker thread running the real worker loop with a built-in objective; `peer` is its peer.
std::thread OrdinaryWorker(InProcessHub& hub, const std::string& name, std::atomic<int>& status,
                           int& peer) {
  auto connection = hub.Connect();
  peer = connection->peer();
  return std::thread([name, &status, channel = std::move(connection)]() mutable {
    WorkerOptions options;
    options.name = name;
    status = RunWorker(
        *channel, [](const StudySpec& s) { return MakeObjectiveTrainer(s); }, options);
    channel.reset();
  });
}

// HELLOs from "bad-hello" with a field missing, of another type, or of another protocol version.
std::vector<Message> BadHellos() {
  const Message hello = msg::Encode(msg::Hello{kProtocolVersion, "bad-hello", "h", 1});
  std::vector<Message> bad_hellos;
  for (const auto& item : hello.body.items()) {
    Message missing = hello;
    missing.body.erase(item.key());
    bad_hellos.push_back(missing);
    for (const auto& [kind, value] : kSamples) {
      if (kind == Kind(item.value())) continue;
      Message changed = hello;
      changed.body[item.key()] = value;
      bad_hellos.push_back(changed);
    }
  }
  Message other_version = hello;
  other_version.body["protocol"] = kProtocolVersion + 1;
  bad_hellos.push_back(other_version);
  return bad_hellos;
}

// A second HELLO on the same connection (and a third, and a fourth) from a peer holding a
// trial: it is disconnected.
void SendSecondHellos(InProcessHub& hub) {
  auto rogue = Connect(hub);
  HoldTrial(*rogue, "rehello");
  for (int i = 0; i < 3; ++i) {
    try {
      rogue->Send(msg::Encode(msg::Hello{kProtocolVersion, "rehello", "h", 1}));
    } catch (const ChannelClosed&) {
      // Dropped after the first: later sends find the channel closed.
    }
  }
  CHECK(ExpectClosed(*rogue).empty());
}

// Anything but HELLO first: the peer is disconnected.
void SendBeforeHello(InProcessHub& hub, const StudySpec& spec) {
  const msg::Run no_trial{0, Json::object(), 1, 2, spec.artifacts + "/trial-00000", std::nullopt};
  for (const Build& build : ValidMessages()) {
    const Message m = build(no_trial);
    if (m.type == msg::kHello) continue;
    INFO(m.type << " before HELLO");
    auto rogue = Connect(hub);
    rogue->Send(m);
    CHECK(ExpectClosed(*rogue).empty());
  }
}

}  // namespace

TEST_CASE("a rogue peer is disconnected alone, its trial retried, and the study finishes",
          "[orchestrator][protocol]") {
  const StudySpec spec = RogueStudy(4, 2);
  auto store = Store::OpenForWriting(spec.storage);
  InProcessHub hub;
  CoordinatorThread coordinator(spec, *store, hub);

  // While holding a trial: every message type with every field missing or of another type,
  // out-of-range values, artifacts outside, malformed text.
  const std::vector<RogueCase> cases = HoldingCases(spec.budget.epochs);
  CHECK(cases.size() > 200);
  for (const RogueCase& c : cases) {
    INFO("rogue case: " << c.what);
    auto rogue = Connect(hub);
    const msg::Run run = HoldTrial(*rogue, "rogue");
    if (c.message) {
      rogue->Send(c.message(run));
    } else {
      rogue->SendText(c.text);
    }
    CHECK(ExpectClosed(*rogue).empty());
    REQUIRE_FALSE(coordinator.done());
  }
  const int64_t holding = static_cast<int64_t>(cases.size());

  SendSecondHellos(hub);
  SendBeforeHello(hub, spec);

  // A HELLO with a field missing, of another type, or out of range, as the first message: the
  // peer is told why, then disconnected; nothing is registered.
  for (const Message& m : BadHellos()) {
    INFO("first message " << EncodeMessage(m));
    auto rogue = Connect(hub);
    rogue->Send(m);
    const std::string reason = ExpectClosed(*rogue);
    CHECK(reason.find("protocol error: HELLO: '") == 0);
  }
  REQUIRE_FALSE(coordinator.done());

  // Ordinary workers finish the study.
  std::atomic<int> status1{-1}, status2{-1};
  int peer1 = 0, peer2 = 0;
  std::thread worker1 = OrdinaryWorker(hub, "w1", status1, peer1);
  std::thread worker2 = OrdinaryWorker(hub, "w2", status2, peer2);
  const RunSummary summary = coordinator.Wait();
  hub.Kill(peer1, "test over");  // in case one connected only after the study finished
  hub.Kill(peer2, "test over");
  worker1.join();
  worker2.join();
  CHECK(status1 == 0);
  CHECK(status2 == 0);

  CHECK(summary.trials == 4);
  CHECK(summary.complete == 4);
  int64_t retries = 0;
  for (const auto& t : store->Trials(summary.study_id)) {
    INFO("trial " << t.number);
    CHECK(t.state == TrialState::kComplete);
    CHECK(store->Artifacts(t.id).empty());  // no rogue artifact was stored
    retries += t.retries;
  }
  // Every rogue that held a trial lost it, and the trial was retried.
  CHECK(retries == holding + 1);
  // One row per connection that said a valid HELLO: repeated HELLOs add none.
  CHECK(WorkerRows(spec.storage, "rehello") == 1);
  CHECK(WorkerRows(spec.storage, "bad-hello") == 0);
  CHECK(WorkerRows(spec.storage) == holding + 1 + 2);
}

TEST_CASE("a DONE's relative artifact paths are stored inside the trial's folder",
          "[orchestrator][protocol]") {
  const StudySpec spec = RogueStudy(1, 1);
  auto store = Store::OpenForWriting(spec.storage);
  InProcessHub hub;
  CoordinatorThread coordinator(spec, *store, hub);
  auto peer = Connect(hub);
  const msg::Run run = HoldTrial(*peer, "by-hand");
  CHECK(run.artifact_dir == spec.artifacts + "/trial-00000");
  CHECK(run.epochs == 1);
  const std::vector<ArtifactRecord> artifacts = {
      {"checkpoint", "model.pt", 10, "fnv1a64:1"},
      {"val_probs", run.artifact_dir + "/val/probs.npy", 20, "fnv1a64:2"}};
  peer->Send(msg::Encode(msg::Report{run.trial, 1, {{"value", 1.5}}}));
  CHECK(NextMessage(*peer).type == msg::kContinue);
  peer->Send(msg::Encode(msg::Done{run.trial, {{"value", 1.5}}, artifacts, 1, false}));
  CHECK(msg::DecodeShutdown(NextMessage(*peer)).reason == "study finished");
  const RunSummary summary = coordinator.Wait();
  CHECK(summary.complete == 1);
  const auto trial = store->FindTrial(summary.study_id, 0);
  REQUIRE(trial);
  const auto stored = store->Artifacts(trial->id);
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].path == run.artifact_dir + "/model.pt");
  CHECK(stored[1].path == run.artifact_dir + "/val/probs.npy");
}

TEST_CASE("the coordinator sends HEARTBEATs that keep an idle worker waiting",
          "[orchestrator][protocol]") {
  // One trial of 5 x 300 ms while a second worker idles: without the coordinator's heartbeats
  // the idle one would take it as silent after 1 s + 0.2 s.
  Json doc = ObjectiveStudy("branin", kBraninSpace, 1, 5);
  doc["resources"]["heartbeat_timeout"] = 1;
  doc["trainer"]["epoch_time"] = 0.3;
  const StudySpec spec = ParseStudy(doc, "test", "/");
  auto store = Store::OpenForWriting(spec.storage);
  InProcessHub hub;
  std::atomic<int> statuses[2] = {{-1}, {-1}};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&statuses, i, channel = hub.Connect(true)]() mutable {
      WorkerOptions options;
      options.name = "w" + std::to_string(i);
      options.heartbeat_interval_s = 0.1;
      options.silence_margin_s = 0.2;
      statuses[i] = RunWorker(
          *channel, [](const StudySpec& s) { return MakeObjectiveTrainer(s); }, options);
      channel.reset();
    });
  }
  CoordinatorThread coordinator(spec, *store, hub);
  const RunSummary summary = coordinator.Wait();
  for (auto& t : workers) t.join();
  CHECK(summary.complete == 1);
  CHECK(statuses[0] == 0);  // both left on SHUTDOWN, neither took the coordinator as silent
  CHECK(statuses[1] == 0);
}

namespace {

// A worker (the real worker loop, FakeTrainer) driven by hand as its coordinator.
class RogueCoordinator {
 public:
  explicit RogueCoordinator(WorkerOptions options = {}) {
    const fs::path dir = test::ScratchPath("ensweep_protocol_test", std::to_string(counter_++));
    root_ = dir;
    const Json doc = {{"study", "fake"},
                      {"storage", (dir / "s.sqlite").string()},
                      {"artifacts", (dir / "artifacts").string()},
                      {"data", {{"train", "/unused"}}},
                      {"budget", {{"trials", 4}, {"epochs", 2}}},
                      {"resources", {{"heartbeat_timeout", 30}}},
                      {"space", {{"lr", 0.01}}}};
    spec_ = ParseStudy(doc, "test", "/");
    if (options.name.empty()) options.name = "victim";
    auto channel = hub_.Connect(/*honour_receive_timeout=*/true);
    exit_ = std::async(std::launch::async, [this, options, channel = std::move(channel)]() mutable {
      const int status = RunWorker(
          *channel, [this](const StudySpec&) { return std::make_unique<FakeTrainer>(0, &runs_); },
          options);
      channel.reset();
      return status;
    });
  }

  ~RogueCoordinator() {
    hub_.Kill(1, "test over");
    if (exit_.valid()) exit_.wait();
  }

  Message Expect(const char* type) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      auto event = hub_.coordinator().Poll(std::chrono::milliseconds(50));
      if (!event) continue;
      REQUIRE(event->kind == TransportEvent::Kind::kMessage);
      if (event->message.type == msg::kHeartbeat) continue;
      REQUIRE(event->message.type == type);
      return event->message;
    }
    FAIL("no " << type << " from the worker within 10 s");
    return {};
  }

  void Send(const Message& m) { hub_.coordinator().Send(1, m); }

  // HELLO, WELCOME with the study, READY.
  void Welcome(const Json& study) {
    Expect(msg::kHello);
    Send(msg::Encode(msg::Welcome{study}));
  }

  // The worker's exit status; fails the test if it has not exited within `seconds`.
  int ExitStatus(double seconds = 10) {
    const auto waited = exit_.wait_for(std::chrono::duration<double>(seconds));
    REQUIRE(waited == std::future_status::ready);
    return exit_.get();
  }

  const StudySpec& spec() const { return spec_; }
  const fs::path& root() const { return root_; }
  int runs() const { return runs_; }
  msg::Run RunFor(const std::string& artifact_dir, int epochs = 2) const {
    return msg::Run{0, Json{{"lr", 0.01}}, 1, epochs, artifact_dir, std::nullopt};
  }

 private:
  static inline int counter_ = 0;
  InProcessHub hub_;
  StudySpec spec_;
  fs::path root_;
  std::atomic<int> runs_{0};
  std::future<int> exit_;
};

bool EmptyOrAbsent(const fs::path& dir) { return !fs::exists(dir) || fs::is_empty(dir); }

}  // namespace

TEST_CASE("a worker runs a RUN inside the artifacts folder, ignoring HEARTBEATs",
          "[orchestrator][protocol][worker]") {
  RogueCoordinator coordinator;
  coordinator.Send(msg::Encode(msg::Heartbeat{}));
  coordinator.Welcome(coordinator.spec().ToJson());
  coordinator.Expect(msg::kReady);
  coordinator.Send(msg::Encode(msg::Heartbeat{}));
  // A relative artifact_dir is taken inside the artifacts folder.
  coordinator.Send(msg::Encode(coordinator.RunFor("trial-00000")));
  for (int epoch = 1; epoch <= 2; ++epoch) {
    CHECK(msg::DecodeReport(coordinator.Expect(msg::kReport)).epoch == epoch);
    coordinator.Send(msg::Encode(msg::Heartbeat{}));
    coordinator.Send(msg::Encode(msg::Continue{0}));
  }
  const msg::Done done = msg::DecodeDone(coordinator.Expect(msg::kDone));
  CHECK(done.epochs == 2);
  CHECK(coordinator.runs() == 1);
  coordinator.Send(msg::Encode(msg::Shutdown{"over"}));
  CHECK(coordinator.ExitStatus() == 0);
  // FakeTrainer writes nothing: the folder the worker made for it is gone again.
  CHECK_FALSE(fs::exists(coordinator.root() / "artifacts" / "trial-00000"));
}

TEST_CASE(
    "a RUN whose artifact_dir leaves the artifacts folder makes the worker exit 1 "
    "without running or writing anything",
    "[orchestrator][protocol][worker]") {
  const fs::path outside = test::FreshDir("ensweep_protocol_test", "outside");
  struct Escape {
    std::string what;
    std::function<std::string(const fs::path& artifacts)> dir;
  };
  const std::vector<Escape> escapes = {
      {"a relative path upwards", [](const fs::path&) { return std::string("../x"); }},
      {"an absolute path elsewhere",
       [&](const fs::path&) { return (outside / "trial-00000").string(); }},
      {"an absolute path with ..",
       [](const fs::path& a) { return (a / ".." / "x" / "trial-00000").string(); }},
      {"the artifacts folder itself", [](const fs::path& a) { return a.string(); }},
      {"a symbolic link out of the folder",
       [&](const fs::path& a) {
         fs::create_directories(a);
         fs::create_directory_symlink(outside, a / "link");
         return (a / "link" / "trial-00000").string();
       }},
      {"a symbolic link as the trial folder",
       [&](const fs::path& a) {
         fs::create_directories(a);
         fs::create_directory_symlink(outside, a / "trial-00000");
         return (a / "trial-00000").string();
       }},
  };
  for (const Escape& escape : escapes) {
    INFO(escape.what);
    RogueCoordinator coordinator;
    const fs::path artifacts = coordinator.spec().artifacts;
    coordinator.Welcome(coordinator.spec().ToJson());
    coordinator.Expect(msg::kReady);
    coordinator.Send(msg::Encode(coordinator.RunFor(escape.dir(artifacts))));
    CHECK(coordinator.ExitStatus() == 1);
    CHECK(coordinator.runs() == 0);
    CHECK(fs::is_empty(outside));
    CHECK(EmptyOrAbsent(coordinator.root() / "x"));
    CHECK_FALSE(fs::exists(artifacts.parent_path() / "x"));
  }
}

TEST_CASE("a RUN beyond the study's epochs or malformed makes the worker exit 1 without running",
          "[orchestrator][protocol][worker]") {
  std::vector<Message> runs;
  {
    RogueCoordinator probe;  // for the study's artifacts folder
    const std::string dir = probe.spec().artifacts + "/trial-00000";
    runs.push_back(msg::Encode(probe.RunFor(dir, 3)));  // the study has 2 epochs
    Message no_seed = msg::Encode(probe.RunFor(dir));
    no_seed.body.erase("seed");
    runs.push_back(no_seed);
    Message string_trial = msg::Encode(probe.RunFor(dir));
    string_trial.body["trial"] = "0";
    runs.push_back(string_trial);
  }
  for (Message run : runs) {
    INFO(EncodeMessage(run));
    RogueCoordinator coordinator;
    run.body["artifact_dir"] = coordinator.spec().artifacts + "/trial-00000";
    coordinator.Welcome(coordinator.spec().ToJson());
    coordinator.Expect(msg::kReady);
    coordinator.Send(run);
    CHECK(coordinator.ExitStatus() == 1);
    CHECK(coordinator.runs() == 0);
  }
}

TEST_CASE("a WELCOME whose study does not parse makes the worker exit 1",
          "[orchestrator][protocol][worker]") {
  for (const Json& study : {Json{{"study", "x"}, {"budget", "many"}}, Json::object()}) {
    INFO(study.dump());
    RogueCoordinator coordinator;
    coordinator.Welcome(study);
    CHECK(coordinator.ExitStatus() == 1);
  }
  RogueCoordinator coordinator;  // a study that is not even an object
  coordinator.Expect(msg::kHello);
  coordinator.Send(Message{msg::kWelcome, {{"study", 5}}});
  CHECK(coordinator.ExitStatus() == 1);
}

TEST_CASE(
    "a decision for another trial, a second WELCOME or an unknown message makes the worker "
    "exit 1",
    "[orchestrator][protocol][worker]") {
  {
    RogueCoordinator coordinator;
    coordinator.Welcome(coordinator.spec().ToJson());
    coordinator.Expect(msg::kReady);
    coordinator.Send(msg::Encode(coordinator.RunFor("trial-00000")));
    coordinator.Expect(msg::kReport);
    coordinator.Send(msg::Encode(msg::Continue{7}));
    CHECK(coordinator.ExitStatus() == 1);
  }
  {
    RogueCoordinator coordinator;
    coordinator.Welcome(coordinator.spec().ToJson());
    coordinator.Expect(msg::kReady);
    coordinator.Send(msg::Encode(msg::Welcome{coordinator.spec().ToJson()}));
    CHECK(coordinator.ExitStatus() == 1);
  }
  {
    RogueCoordinator coordinator;
    coordinator.Welcome(coordinator.spec().ToJson());
    coordinator.Expect(msg::kReady);
    coordinator.Send(Message{"EXPLODE", Json::object()});
    CHECK(coordinator.ExitStatus() == 1);
    CHECK(coordinator.runs() == 0);
  }
}

TEST_CASE("a worker whose coordinator stays silent exits 1", "[orchestrator][protocol][worker]") {
  SECTION("before WELCOME") {
    WorkerOptions options;
    options.welcome_timeout_s = 0.3;
    const auto started = Clock::now();
    RogueCoordinator coordinator(options);
    coordinator.Expect(msg::kHello);
    CHECK(coordinator.ExitStatus(5) == 1);
    CHECK(Clock::now() - started >= std::chrono::milliseconds(250));
  }
  SECTION("after WELCOME, for the study's heartbeat timeout and the margin") {
    WorkerOptions options;
    options.silence_margin_s = 0.2;
    RogueCoordinator coordinator(options);
    Json study = coordinator.spec().ToJson();
    study["resources"]["heartbeat_timeout"] = 1;
    coordinator.Welcome(study);
    coordinator.Expect(msg::kReady);
    const auto ready = Clock::now();
    CHECK(coordinator.ExitStatus(10) == 1);
    CHECK(Clock::now() - ready >= std::chrono::milliseconds(1000));
  }
}

TEST_CASE("a worker refused at HELLO (SHUTDOWN before WELCOME) exits 1",
          "[orchestrator][protocol][worker]") {
  RogueCoordinator coordinator;
  coordinator.Expect(msg::kHello);
  coordinator.Send(msg::Encode(msg::Shutdown{"protocol error: HELLO: 'protocol' is 2"}));
  CHECK(coordinator.ExitStatus() == 1);
}

TEST_CASE("a worker told to stop gives its trial back, and it runs again elsewhere uncharged",
          "[orchestrator][protocol][worker]") {
  const StudySpec spec = RogueStudy(3, 2);
  auto store = Store::OpenForWriting(spec.storage);
  InProcessHub hub;
  CoordinatorThread coordinator(spec, *store, hub);

  // Told to stop (as by SIGTERM) once its first trial has begun.
  std::atomic<int> runs{0};
  int stopped_status = -1;
  {
    auto channel = hub.Connect();
    WorkerOptions options;
    options.name = "leaver";
    options.stop_requested = [&runs] { return runs.load() > 0; };
    stopped_status = RunWorker(
        *channel, [&runs](const StudySpec&) { return std::make_unique<FakeTrainer>(0, &runs); },
        options);
  }
  CHECK(stopped_status == kWorkerStopped);
  CHECK(runs == 1);

  std::atomic<int> status{-1};
  int peer = 0;
  std::thread worker = OrdinaryWorker(hub, "stayer", status, peer);
  const RunSummary summary = coordinator.Wait();
  hub.Kill(peer, "test over");
  worker.join();
  CHECK(status == 0);
  CHECK(summary.complete == 3);
  CHECK(summary.stale == 0);
  for (const auto& t : store->Trials(summary.study_id)) {
    INFO("trial " << t.number);
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.retries == 0);
    CHECK(t.worker == "stayer");
  }
}

TEST_CASE("a coordinator with nothing to run tells every expected worker to go, late ones too",
          "[orchestrator][protocol]") {
  // MPI ranks: each waits for its SHUTDOWN, and rank 0's MPI_Finalize waits for every rank.
  const StudySpec spec = RogueStudy(2, 1);
  auto store = Store::OpenForWriting(spec.storage);
  {
    InProcessHub hub;
    CoordinatorThread first(spec, *store, hub);
    std::atomic<int> status{-1};
    int peer = 0;
    std::thread worker = OrdinaryWorker(hub, "first", status, peer);
    REQUIRE(first.Wait().complete == 2);
    hub.Kill(peer, "test over");
    worker.join();
  }
  InProcessHub hub;
  CoordinatorOptions options;
  options.expected_workers = 2;
  options.end_after_every_hello = true;
  Coordinator coordinator(spec, *store, hub.coordinator(), options);
  std::atomic<bool> done{false};
  RunSummary summary;
  std::thread run([&] {
    summary = coordinator.Run();
    done = true;
  });
  // The study is finished, but no worker has said HELLO yet: the run waits for them.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(done);
  std::atomic<int> status1{-1}, status2{-1};
  int peer1 = 0, peer2 = 0;
  std::thread worker1 = OrdinaryWorker(hub, "late-1", status1, peer1);
  std::thread worker2 = OrdinaryWorker(hub, "late-2", status2, peer2);
  worker1.join();
  worker2.join();
  run.join();
  CHECK(status1 == 0);  // told to go (SHUTDOWN after WELCOME), not left waiting
  CHECK(status2 == 0);
  CHECK(summary.finished_this_run == 0);
  CHECK(summary.stop_reason == "trial budget reached");
}
