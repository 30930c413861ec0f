// Gang trials through the real worker loop (orchestrator/worker_loop.cc) and the in-process
// transport: each member's TrialRequest carries its gang, Rendezvous hands rank 0's blob to the
// others through the coordinator, and a member that fails takes the trial with it while the
// others are aborted and go on to the next trial.
#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "core/store.h"
#include "tests/scratch_dir.h"
#include "worker_harness.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

StudySpec WorkerGangStudy(int64_t trials, int epochs, const Json& extra) {
  static int counter = 0;
  const fs::path dir = test::ScratchPath("ensweep_gang_worker_test", std::to_string(counter++));
  Json doc = {{"study", "gangw"},
              {"storage", (dir / "s.sqlite").string()},
              {"artifacts", (dir / "artifacts").string()},
              {"data", {{"train", "/unused"}}},
              {"budget", {{"trials", trials}, {"epochs", epochs}}},
              {"sampler", {{"seed", 21}}},
              {"resources", {{"heartbeat_timeout", 30}}},
              {"space", {{"lr", {{"log_uniform", {1e-3, 1e-1}}}}}}};
  doc.merge_patch(extra);
  return ParseStudy(doc, "test", "/");
}

// What one member's trainer saw.
struct Seen {
  int64_t trial;
  GangInfo gang;
  std::string blob;   // what Rendezvous returned
  std::string error;  // what ended it, if it threw
};

class Journal {
 public:
  void Add(Seen seen) {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(std::move(seen));
  }
  std::vector<Seen> All() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
};

// Rank 0 offers "blob-<key>"; every member reports every epoch; rank 1 of a trial whose backbone
// starts with "broken_member" throws after the rendezvous, while rank 0 waits for the ABORT.
class GangTrainer : public Trainer {
 public:
  explicit GangTrainer(Journal& journal) : journal_(journal) {}

  TrialResult Run(const TrialRequest& request, TrialContext& context) override {
    Seen seen{request.trial_number, request.gang, "", ""};
    try {
      TrialResult result = Train(request, context, seen);
      journal_.Add(seen);
      return result;
    } catch (const std::exception& e) {
      seen.error = e.what();
      journal_.Add(seen);
      throw;
    }
  }

  std::string Device() const override { return "gang-fake"; }

 private:
  TrialResult Train(const TrialRequest& request, TrialContext& context, Seen& seen) {
    if (request.gang.size > 1) {
      seen.blob = context.Rendezvous(request.gang.rank == 0 ? "blob-" + request.gang.key : "");
    }
    const std::string backbone = request.params.value("backbone", "");
    if (request.gang.rank == 1 && backbone.rfind("broken_member", 0) == 0) {
      throw std::runtime_error("member 1 ran out of memory");
    }
    if (request.gang.rank == 0 && backbone.rfind("broken_member", 0) == 0) {
      // Rank 0 cannot finish an epoch without rank 1 (a real member would wait in its first
      // all-reduce), so it stays in a long stretch of work that calls KeepAlive only (at most
      // 20 s here) until its attempt's ABORT arrives. (Were it to report and finish on its own,
      // its DONE could reach the coordinator before rank 1's FAIL.)
      for (int i = 0; i < 20000; ++i) {
        context.KeepAlive();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      throw std::logic_error("no ABORT reached KeepAlive");
    }
    const double lr = request.params.value("lr", 0.01);
    TrialResult result;
    for (int epoch = 1; epoch <= request.epochs; ++epoch) {
      context.KeepAlive();
      result.metrics = {{"val_macro_f1", 1.0 - lr * epoch}};
      result.epochs_completed = epoch;
      if (!context.ReportEpoch(EpochReport{epoch, result.metrics})) {
        result.stopped_early = true;
        break;
      }
    }
    return result;
  }

  Journal& journal_;
};

}  // namespace

TEST_CASE(
    "real workers run a study mixing 1-slot and 2-slot trials, meeting at rank 0's "
    "rendezvous",
    "[orchestrator][gang]") {
  const StudySpec spec =
      WorkerGangStudy(8, 2, {{"space", {{"slots_per_trial", {{"choice", {1, 2}}}}}}});
  Journal journal;
  testing::WorkerHarness harness(
      spec, 3, [&journal](const StudySpec&) { return std::make_unique<GangTrainer>(journal); });
  const RunSummary summary = harness.Run();
  CHECK(summary.complete == 8);
  std::map<int64_t, std::vector<Seen>> by_trial;
  for (const Seen& seen : journal.All()) by_trial[seen.trial].push_back(seen);
  const auto trials = harness.store().Trials(summary.study_id);
  int gangs = 0;
  for (const TrialRecord& trial : trials) {
    const std::vector<Seen>& members = by_trial[trial.number];
    INFO("trial " << trial.number);
    if (trial.params["slots_per_trial"] != 2) {
      REQUIRE(members.size() == 1);
      CHECK(members[0].gang.size == 1);
      continue;
    }
    ++gangs;
    REQUIRE(members.size() == 2);
    std::set<int> ranks;
    for (const Seen& member : members) {
      CHECK(member.error.empty());
      CHECK(member.gang.size == 2);
      CHECK(member.gang.key == members[0].gang.key);
      CHECK(member.blob == "blob-" + member.gang.key);
      CHECK(member.gang.advertise_host == "127.0.0.1");
      CHECK(member.gang.mpi_ranks.empty());
      ranks.insert(member.gang.rank);
    }
    CHECK(ranks == std::set<int>{0, 1});
  }
  CHECK(gangs > 0);
}

TEST_CASE(
    "a gang member whose trainer throws fails the trial, and the other member is freed for "
    "the next",
    "[orchestrator][gang]") {
  const Json extra = {{"resources", {{"slots_per_trial", 2}}},
                      {"space", {{"backbone", {{"choice", {"ok", "broken_member"}}}}}},
                      {"enqueue",
                       {{{"lr", 0.01}, {"backbone", "broken_member"}},
                        {{"lr", 0.02}, {"backbone", "ok"}},
                        {{"lr", 0.03}, {"backbone", "ok"}}}}};
  const StudySpec spec = WorkerGangStudy(3, 3, extra);
  Journal journal;
  testing::WorkerHarness harness(
      spec, 2, [&journal](const StudySpec&) { return std::make_unique<GangTrainer>(journal); });
  const RunSummary summary = harness.Run();
  const auto trials = harness.store().Trials(summary.study_id);
  REQUIRE(trials.size() == 3);
  CHECK(trials[0].state == TrialState::kFailed);
  CHECK_THAT(trials[0].error,
             Catch::Contains("gang rank 1") && Catch::Contains("member 1 ran out of memory"));
  INFO("trial 1: " << trials[1].error);
  CHECK(trials[1].state == TrialState::kComplete);
  CHECK(trials[2].state == TrialState::kComplete);
  CHECK(summary.complete == 2);
}

TEST_CASE("a gang member busy between reports sees its attempt's ABORT in KeepAlive",
          "[orchestrator][gang]") {
  const Json extra = {{"resources", {{"slots_per_trial", 2}}},
                      {"space", {{"backbone", "broken_member_busy_rank0"}}}};
  const StudySpec spec = WorkerGangStudy(1, 2, extra);
  Journal journal;
  testing::WorkerHarness harness(
      spec, 2, [&journal](const StudySpec&) { return std::make_unique<GangTrainer>(journal); }, 0);
  const RunSummary summary = harness.Run();
  const auto trials = harness.store().Trials(summary.study_id);
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::kFailed);
  CHECK_THAT(trials[0].error, Catch::Contains("gang rank 1"));
  const auto seen = journal.All();
  REQUIRE(seen.size() == 2);
  for (const Seen& member : seen) {
    if (member.gang.rank != 0) continue;
    CHECK_THAT(member.error, Catch::Contains("gang attempt aborted by the coordinator: gang rank "
                                             "1 (worker "));
  }
}
