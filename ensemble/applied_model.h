// What `ensweep predict` and `ensweep export` apply to new images: a recorded ensemble's members
// (or one trial), each with its weight, parameters, checkpoints and test-time augmentation, read
// from the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/store.h"

namespace ensweep {

struct AppliedMember {
  int64_t trial = 0;
  double weight = 1;
  Json params;                           // as recorded
  std::vector<std::string> checkpoints;  // `checkpoint`, or `checkpoint_fold1` .. `_foldk`
  // The mean of the plain and the mirrored view: the trial trained with tta: hflip (its own eval
  // predictions are that mean) or the ensemble was built with tta: hflip (ensemble/README.md).
  bool hflip = false;
};

struct AppliedModel {
  std::string what;  // "ensemble 3 (greedy)" or "trial 5"
  std::vector<AppliedMember> members;
  Json description;  // what model.json records about the source (kind, id, method, settings)
};

// The members of ensemble `id` of `study` with their recorded weights and the ensemble's tta.
// Throws UserError (exit status 2) for an unknown id (naming `ensweep ensemble --list`) and for a
// member whose checkpoint is not recorded or no longer exists (naming the trial, the file and
// how to keep checkpoints).
AppliedModel EnsembleModel(const Store& store, const StudyRecord& study, int64_t id);

// Trial `number` of `study` alone (weight 1, its own tta). Throws UserError for an unknown trial
// and like EnsembleModel for its checkpoints.
AppliedModel TrialModel(const Store& store, const StudyRecord& study, int64_t number);

}  // namespace ensweep
