// A trained trial's models loaded back from its checkpoints (worker/inference.h).
//
// Worker-internal (includes LibTorch).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/arithmetic.h"
#include "worker/inference.h"
#include "worker/models.h"
#include "worker/trial_params.h"

namespace ensweep {

// A member's models (one per fold, in fold order), on the device, in evaluation mode.
struct LoadedMember {
  TrialParams params;
  Arithmetic arithmetic;  // the trial's, resolved for the device
  std::vector<std::shared_ptr<ClassifierImpl>> folds;
};

// Builds the member's model from its recorded parameters (backbone, head, norm) for the job's data
// and loads each checkpoint into one. Throws UserError naming the trial (and the file) for
// parameters that do not parse, no checkpoint, or a checkpoint that does not load into the model.
LoadedMember LoadMember(const InferenceJob& job, const InferenceMember& member,
                        const torch::Device& device);

// "trial <number>", for messages.
std::string MemberName(const InferenceMember& member);

}  // namespace ensweep
