#include "ensemble/applied_model.h"

#include <filesystem>
#include <map>
#include <optional>

#include "core/error.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

bool TrainedWithHflip(const TrialRecord& trial) {
  const auto it = trial.params.find("tta");
  return it != trial.params.end() && it->is_string() && it->get<std::string>() == "hflip";
}

// The trial's checkpoints: `checkpoint`, or `checkpoint_fold<k>` in fold order.
std::vector<std::string> Checkpoints(const Store& store, const TrialRecord& trial) {
  const std::string who = "trial " + std::to_string(trial.number);
  std::string single;
  std::map<int, std::string> folds;
  for (const ArtifactRecord& a : store.Artifacts(trial.id)) {
    const std::string prefix = "checkpoint_fold";
    if (a.kind == "checkpoint") {
      single = a.path;
    } else if (a.kind.rfind(prefix, 0) == 0) {
      try {
        folds[std::stoi(a.kind.substr(prefix.size()))] = a.path;
      } catch (const std::exception&) {
        throw UserError(who + ": artifact kind '" + a.kind + "' names no fold");
      }
    }
  }
  std::vector<std::string> paths;
  if (!folds.empty()) {
    for (const auto& [fold, path] : folds) paths.push_back(path);
  } else if (!single.empty()) {
    paths.push_back(single);
  } else {
    throw UserError(who + " (" + std::string(TrialStateName(trial.state)) +
                    ") recorded no checkpoint; only trials that finished training can be applied "
                    "to new images");
  }
  for (const std::string& path : paths) {
    if (!fs::exists(path)) {
      throw UserError(who + ": its checkpoint " + path +
                      " was deleted by checkpoint retention (the study's `checkpoints: {keep: N}` "
                      "keeps only the "
                      "best N trials' checkpoints); raise N or set `checkpoints: {keep: all}` "
                      "before the next run, or train the trial again");
    }
  }
  return paths;
}

AppliedMember Member(const Store& store, const TrialRecord& trial, double weight, bool hflip) {
  AppliedMember m;
  m.trial = trial.number;
  m.weight = weight;
  m.params = trial.params;
  m.checkpoints = Checkpoints(store, trial);
  m.hflip = hflip || TrainedWithHflip(trial);
  return m;
}

}  // namespace

AppliedModel EnsembleModel(const Store& store, const StudyRecord& study, int64_t id) {
  for (const EnsembleRecord& r : store.Ensembles(study.id)) {
    if (r.id != id) continue;
    const bool hflip = r.settings.contains("tta") && r.settings["tta"] == "hflip";
    AppliedModel model;
    model.what = "ensemble " + std::to_string(id) + " (" + r.method + ")";
    for (size_t i = 0; i < r.member_numbers.size(); ++i) {
      const std::optional<TrialRecord> trial = store.FindTrial(study.id, r.member_numbers[i]);
      if (!trial) {
        throw UserError("ensemble " + std::to_string(id) + ": its member trial " +
                        std::to_string(r.member_numbers[i]) + " is not in study " + study.name);
      }
      model.members.push_back(Member(store, *trial, r.weights[i], hflip));
    }
    model.description = {
        {"kind", "ensemble"}, {"id", id}, {"method", r.method}, {"settings", r.settings}};
    return model;
  }
  throw UserError("study " + study.name + " has no ensemble " + std::to_string(id) +
                  " (`ensweep ensemble --list` lists them)");
}

AppliedModel TrialModel(const Store& store, const StudyRecord& study, int64_t number) {
  const std::optional<TrialRecord> trial = store.FindTrial(study.id, number);
  if (trial) {
    AppliedModel model;
    model.what = "trial " + std::to_string(number);
    model.members.push_back(Member(store, *trial, 1.0, false));
    model.description = {{"kind", "trial"}, {"trial", number}};
    return model;
  }
  throw UserError("study " + study.name + " has no trial " + std::to_string(number) +
                  " (`ensweep top` lists them)");
}

}  // namespace ensweep
