// The ensemble pipeline behind `ensweep ensemble`: choose the candidate trials of a study, load
// their stored predictions, select an ensemble (in-sample and honest scores), write the
// submission, score it against eval labels when there are any, and record the ensemble in the
// store. Returns everything the command prints, so that apps/ only prints it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/store.h"
#include "ensemble/blend.h"
#include "ensemble/config.h"
#include "ensemble/selection.h"
#include "ensemble/submission.h"

namespace ensweep {

struct EnsembleMember {
  int64_t trial = 0;
  double weight = 0;
  BlendScore alone;      // the trial's own validation score
  std::string backbone;  // its `backbone` parameter as text, "-" if it has none
};

struct EnsembleEvalScore {
  std::string labels;  // the labels file
  SubmissionScore ensemble;
  SubmissionScore best_single;
};

struct EnsembleOutcome {
  EnsembleSpec spec;                     // the study's ensemble block with the request's overrides
  std::vector<std::string> family_keys;  // one candidate per tuple of these parameters
  std::vector<std::string> skipped;      // candidates left out (skip_missing), one message each
  std::vector<EnsembleMember> members;   // weight > 0, heaviest first (ties: candidate order)
  int64_t candidates = 0;                // loaded candidates, the best first
  int64_t best_single_trial = 0;         // the best candidate
  int64_t validation_rows = 0;
  std::set<int> folds;  // the candidates' numbers of folds (1: hold-out split)
  BlendScore in_sample, best_single;
  // The honest estimates (ensemble, best single), or why there is none.
  std::optional<BlendScore> honest, best_single_honest;
  std::string no_honest_estimate;
  int64_t honest_pool = 0;  // trials the honest estimate re-chose its pools from
  // With eval data: the submission written (absolute) and its rows; with write_probs, the stem of
  // the .eval_probs.npy and .val_probs.npy written beside it.
  std::string submission;
  int64_t submission_rows = 0;
  std::string probs_stem;
  std::optional<EnsembleEvalScore> eval;  // when eval labels were found
  EnsembleRecord record;                  // as recorded; record.id is its id in the store
};

// Hidden eval labels for local scoring: `given` when set, else eval_labels.csv beside the eval
// folder (where `ensweep datagen` writes it) when it exists, else "".
std::string FindEvalLabels(const std::string& given, const std::string& eval_dir);

// Builds and records one ensemble of `study` in `store`. Throws UserError for what the user can
// fix (an unknown one_per parameter, no COMPLETE trial, unloadable predictions without
// skip_missing, bad labels).
EnsembleOutcome BuildEnsemble(Store& store, const StudyRecord& study,
                              const EnsembleRequest& request);

}  // namespace ensweep
