#include "ensemble/candidate_loading.h"

#include "core/error.h"

namespace ensweep {

LoadedCandidates LoadCandidates(const Store& store, const std::vector<TrialRecord>& pool,
                                bool need_eval, bool skip_missing) {
  LoadedCandidates loaded;
  for (const auto& trial : pool) {
    try {
      TrialPredictions p = LoadTrialPredictions(store, trial);
      if (need_eval && !p.eval_probs) {
        throw UserError("trial " + std::to_string(trial.number) +
                        ": no eval predictions recorded (eval_probs)");
      }
      if (p.eval_probs && !loaded.predictions.empty() && loaded.predictions[0].eval_probs &&
          p.eval_probs->rows != loaded.predictions[0].eval_probs->rows) {
        throw UserError("trial " + std::to_string(trial.number) + ": eval predictions have " +
                        std::to_string(p.eval_probs->rows) + " rows, trial " +
                        std::to_string(loaded.predictions[0].number) + "'s have " +
                        std::to_string(loaded.predictions[0].eval_probs->rows));
      }
      loaded.predictions.push_back(std::move(p));
    } catch (const std::exception& e) {
      std::string what = e.what();
      const std::string who = "trial " + std::to_string(trial.number);
      if (what.rfind(who, 0) != 0) what = who + ": " + what;
      if (!skip_missing) throw UserError(what + " (--skip-missing leaves such trials out)");
      loaded.skipped.push_back(what);
    }
  }
  if (loaded.predictions.empty()) {
    throw UserError("no candidate trial has usable predictions");
  }
  CheckSameValidationRows(loaded.predictions);
  return loaded;
}

}  // namespace ensweep
