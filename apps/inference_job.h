// What `ensweep predict` and `ensweep export` share: choosing the ensemble or trial to apply and
// describing it to the LibTorch module (worker/inference.h).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "apps/study_locator.h"
#include "core/artifact_lock.h"
#include "core/study.h"
#include "ensemble/applied_model.h"
#include "worker/inference.h"

namespace ensweep {

struct ModelChoice {
  int64_t ensemble = 0;  // >= 1 when chosen
  int64_t trial = -1;    // >= 0 when chosen

  // Adds --ensemble ID and --trial N (one of them required, checked by Resolve) to `app`.
  void AddOptions(CLI::App* app);
  // The chosen ensemble's or trial's members. Throws UserError when neither or both were given,
  // and as EnsembleModel / TrialModel.
  AppliedModel Resolve(const StudyLocator::Found& found) const;
};

// The job for `model` of the study `spec` (members, image size, classes); `study_file` (may be
// empty) anchors relative torchscript backbones. Images, threads and device are the caller's.
InferenceJob MakeInferenceJob(const StudySpec& spec, const AppliedModel& model,
                              const std::string& study_file);

// A study opened to apply one of its models: the model chosen and its job, with the artifact
// folder's shared lock held while the members' checkpoints are read, so that checkpoint retention
// waits (core/artifact_lock.h).
struct OpenedModel {
  StudyLocator::Found found;
  StudySpec spec;
  ArtifactLock reading;
  AppliedModel model;
  InferenceJob job;  // MakeInferenceJob's; images, threads and device are the caller's
};

// Opens the study `locator` names, takes the lock and resolves `choice`. Throws UserError as
// StudyLocator::Open and ModelChoice::Resolve.
OpenedModel OpenModel(const StudyLocator& locator, const ModelChoice& choice);

}  // namespace ensweep
