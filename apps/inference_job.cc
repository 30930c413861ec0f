#include "apps/inference_job.h"

#include <filesystem>
#include <utility>

#include "apps/commands.h"
#include "core/error.h"
#include "core/listing.h"

namespace ensweep {

void ModelChoice::AddOptions(CLI::App* app) {
  app->add_option("--ensemble", ensemble,
                  "A recorded ensemble, by its id (`ensweep ensemble --list`)")
      ->check(AtLeast(1));
  app->add_option("--trial", trial, "One trial, by its number (`ensweep top`)")->check(AtLeast(0));
}

AppliedModel ModelChoice::Resolve(const StudyLocator::Found& found) const {
  const bool by_ensemble = ensemble >= 1, by_trial = trial >= 0;
  if (by_ensemble == by_trial) {
    throw UserError(
        "name one model to apply: --ensemble ID (a recorded ensemble, `ensweep ensemble "
        "--list`) or --trial N (one trial, `ensweep top`)");
  }
  return by_ensemble ? EnsembleModel(*found.store, found.study, ensemble)
                     : TrialModel(*found.store, found.study, trial);
}

InferenceJob MakeInferenceJob(const StudySpec& spec, const AppliedModel& model,
                              const std::string& study_file) {
  InferenceJob job;
  job.data = spec.data;
  if (!study_file.empty()) {
    job.study_dir = std::filesystem::absolute(study_file).parent_path().string();
  } else if (!spec.source_path.empty()) {
    job.study_dir = std::filesystem::path(spec.source_path).parent_path().string();
  }
  job.class_names = ListClassNames(spec.data);
  job.num_classes = static_cast<int>(job.class_names.size());
  for (const AppliedMember& m : model.members) {
    job.members.push_back({m.trial, m.params, m.checkpoints, m.hflip, m.weight});
  }
  return job;
}

OpenedModel OpenModel(const StudyLocator& locator, const ModelChoice& choice) {
  StudyLocator::Found found = locator.Open();
  StudySpec spec = StudyFromJson(found.study.spec);
  ArtifactLock reading = ArtifactLock::Shared(spec.artifacts);
  AppliedModel model = choice.Resolve(found);
  InferenceJob job = MakeInferenceJob(spec, model, locator.study_file);
  return {std::move(found), std::move(spec), std::move(reading), std::move(model), std::move(job)};
}

}  // namespace ensweep
