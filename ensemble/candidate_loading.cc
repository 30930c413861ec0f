#include "ensemble/candidate_loading.h"

#include "core/error.h"

namespace ensweep {
namespace {

std::string ArtifactPath(const std::vector<ArtifactRecord>& artifacts, const std::string& kind) {
  for (const auto& a : artifacts) {
    if (a.kind == kind) return a.path;
  }
  return "";
}

// probs := (probs + the `kind` view) / 2, the view read from the trial's
// artifact `kind`.
void AverageWithView(const Store& store, const TrialRecord& trial, const std::string& kind,
                     Matrix& probs) {
  const std::string who = "trial " + std::to_string(trial.number);
  const std::string path = ArtifactPath(store.Artifacts(trial.id), kind);
  if (path.empty()) {
    throw UserError(who + ": no " + kind + " recorded (the hflip view that ensemble tta: hflip " +
                    "averages in; tta: none uses the predictions as stored)");
  }
  Matrix view;
  try {
    view = ReadNpy(path);
  } catch (const UserError& e) {
    throw UserError(who + ": " + e.what());
  }
  if (view.rows != probs.rows || view.cols != probs.cols) {
    throw UserError(who + ": " + path + " is " + std::to_string(view.rows) + " x " +
                    std::to_string(view.cols) + ", the unflipped predictions " +
                    std::to_string(probs.rows) + " x " + std::to_string(probs.cols));
  }
  for (size_t i = 0; i < probs.values.size(); ++i) {
    probs.values[i] = (probs.values[i] + view.values[i]) / 2;
  }
}

bool TrainedWithHflip(const TrialRecord& trial) {
  const auto it = trial.params.find("tta");
  return it != trial.params.end() && it->is_string() && it->get<std::string>() == "hflip";
}

// Out-of-fold predictions cover every training image, a hold-out split only its
// validation persons: a differing row count almost always means the two were
// mixed.
void CheckSameRowCount(const std::vector<TrialPredictions>& members) {
  for (const auto& m : members) {
    if (m.val_probs.rows != members[0].val_probs.rows) {
      throw UserError("trial " + std::to_string(m.number) + " has " +
                      std::to_string(m.val_probs.rows) + " validation rows but trial " +
                      std::to_string(members[0].number) + " has " +
                      std::to_string(members[0].val_probs.rows) +
                      ": ensemble members must share the validation set "
                      "(out-of-fold predictions from "
                      "data.split.folds > 1 cover every training image and do "
                      "not mix with a hold-out "
                      "split's)");
    }
  }
}

}  // namespace

TrialPredictions LoadCandidate(const Store& store, const TrialRecord& trial, bool need_eval,
                               const std::string& tta) {
  if (tta != "none" && tta != "hflip") throw UserError("ensemble tta: expected none or hflip");
  TrialPredictions p = LoadTrialPredictions(store, trial);
  if (need_eval && !p.eval_probs) {
    throw UserError("trial " + std::to_string(trial.number) +
                    ": no eval predictions recorded (eval_probs)");
  }
  if (tta == "hflip" && !TrainedWithHflip(trial)) {
    AverageWithView(store, trial, "val_probs_hflip", p.val_probs);
    if (p.eval_probs) AverageWithView(store, trial, "eval_probs_hflip", *p.eval_probs);
  }
  return p;
}

LoadedCandidates LoadCandidates(const Store& store, const std::vector<TrialRecord>& pool,
                                bool need_eval, bool skip_missing, const std::string& tta) {
  LoadedCandidates loaded;
  for (const auto& trial : pool) {
    try {
      TrialPredictions p = LoadCandidate(store, trial, need_eval, tta);
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
  CheckSameRowCount(loaded.predictions);
  CheckSameValidationRows(loaded.predictions);
  return loaded;
}

std::vector<TrialPredictions> LoadCompatible(const Store& store,
                                             const std::vector<TrialRecord>& trials,
                                             const TrialPredictions& reference, bool need_eval,
                                             const std::string& tta) {
  std::vector<TrialPredictions> loaded;
  for (const auto& trial : trials) {
    try {
      TrialPredictions p = LoadCandidate(store, trial, need_eval, tta);
      const bool same_eval = !p.eval_probs || !reference.eval_probs ||
                             p.eval_probs->rows == reference.eval_probs->rows;
      if (p.val_paths == reference.val_paths && p.val_probs.cols == reference.val_probs.cols &&
          same_eval) {
        loaded.push_back(std::move(p));
      }
    } catch (const std::exception&) {
      // Outside the pool: a trial that cannot join is simply not a candidate.
    }
  }
  return loaded;
}

}  // namespace ensweep
