// Runs the real coordinator over in-process workers (threads running the real worker loop) that
// train with the built-in objectives (objectives/), storing into a fresh SQLite file.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "core/store.h"
#include "objectives/objective_trainer.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/in_process_transport.h"
#include "orchestrator/worker_loop.h"

namespace ensweep::testing {

// A study document for the built-in objectives, stored in a fresh temporary folder.
inline Json ObjectiveStudy(const std::string& trainer, const Json& space, int64_t trials,
                           int epochs) {
  static int counter = 0;
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("ensweep_search_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  const bool maximize = trainer == "curve";
  return {{"study", "objective"},
          {"storage", (dir / "s.sqlite").string()},
          {"artifacts", (dir / "artifacts").string()},
          {"trainer", {{"type", trainer}, {"noise", 0.01}}},
          {"objective", {{"metric", "value"}, {"direction", maximize ? "maximize" : "minimize"}}},
          {"budget", {{"trials", trials}, {"epochs", epochs}}},
          {"sampler", {{"type", "tpe"}, {"seed", 3}}},
          {"resources", {{"heartbeat_timeout", 30}}},
          {"space", space}};
}

class ObjectiveHarness {
 public:
  ObjectiveHarness(const StudySpec& spec, int workers) : spec_(spec) {
    store_ = Store::OpenForWriting(spec.storage);
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([i, ch = hub_.Connect()]() mutable {
        WorkerOptions options;
        options.name = "w" + std::to_string(i + 1);
        RunWorker(
            *ch, [](const StudySpec& s) { return MakeObjectiveTrainer(s); }, options);
        ch.reset();
      });
    }
  }
  // A worker whose HELLO arrived after the study finished never got SHUTDOWN (instant trials can
  // finish before the last worker connects): closing every channel releases it.
  ~ObjectiveHarness() {
    for (int peer = 1; peer <= static_cast<int>(threads_.size()); ++peer) hub_.Kill(peer, "test over");
    for (auto& t : threads_) t.join();
  }

  RunSummary Run(CoordinatorOptions options = {}) {
    Coordinator coordinator(spec_, *store_, hub_.coordinator(), options);
    return coordinator.Run();
  }
  Store& store() { return *store_; }

 private:
  StudySpec spec_;
  InProcessHub hub_;
  std::unique_ptr<Store> store_;
  std::vector<std::thread> threads_;
};

}  // namespace ensweep::testing
