// `ensweep audit --leak`: the study's best recipe trained twice, once with an image-level and once
// with a person-level (group-level) validation split, same data and same seed, and both validation
// scores printed beside the eval score, so that a user sees how much an image split, where photos
// of one person land on both sides, overstates.
#pragma once

#include <string>

#include "apps/study_locator.h"

namespace ensweep {

struct LeakOptions {
  std::string out;     // working folder; empty: <artifacts>/audit-leak
  std::string labels;  // eval labels; empty: eval_labels.csv beside the eval folder, if any
  int threads = 0;     // LibTorch threads of the one worker (0: run's default)
};

// Runs both trainings (each a one-trial study under `out`, run by this executable's `run`; a
// rerun resumes or reuses them) and prints the comparison. Returns the exit status: 0, or the
// interrupted run's 130/129. Throws UserError for a study that cannot be compared.
int RunLeakAudit(const StudyLocator& locator, const LeakOptions& options);

}  // namespace ensweep
