// Runs the real coordinator over in-process workers (threads running the real worker loop) that
// train with the built-in objectives (objectives/), storing into a fresh SQLite file.
#pragma once

#include <filesystem>
#include <string>

#include "objectives/objective_trainer.h"
#include "tests/scratch_dir.h"
#include "worker_harness.h"

namespace ensweep::testing {

// A study document for the built-in objectives, stored in a fresh temporary folder.
inline Json ObjectiveStudy(const std::string& trainer, const Json& space, int64_t trials,
                           int epochs) {
  static int counter = 0;
  const std::filesystem::path dir =
      test::ScratchPath("ensweep_search_test", std::to_string(counter++));
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

// Workers that train with the built-in objectives.
class ObjectiveHarness : public WorkerHarness {
 public:
  ObjectiveHarness(const StudySpec& spec, int workers)
      : WorkerHarness(spec, workers, [](const StudySpec& s) { return MakeObjectiveTrainer(s); }) {}
};

}  // namespace ensweep::testing
