#include "core/trial.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace ensweep {

const char* TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kQueued:
      return "QUEUED";
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFailed:
      return "FAILED";
    case TrialState::kStale:
      return "STALE";
  }
  return "?";
}

TrialState ParseTrialState(const std::string& name) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (TrialState s : {TrialState::kQueued, TrialState::kRunning, TrialState::kComplete,
                       TrialState::kPruned, TrialState::kFailed, TrialState::kStale}) {
    if (upper == TrialStateName(s)) return s;
  }
  throw UserError("unknown trial state '" + name +
                  "'; expected QUEUED, RUNNING, COMPLETE, PRUNED, FAILED or STALE");
}

bool IsFinished(TrialState state) {
  return state == TrialState::kComplete || state == TrialState::kPruned ||
         state == TrialState::kFailed;
}

}  // namespace ensweep
