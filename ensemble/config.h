// How one ensemble is built: the study's `ensemble:` block (EnsembleSpec, core/study.h) with a
// request's overrides on top (the command line's options), the selection options it implies, and
// the JSON form recorded with the ensemble (EnsembleRecord::settings).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/study.h"
#include "ensemble/selection.h"

namespace ensweep {

// Everything `ensweep ensemble` can be asked for beyond the study's defaults. A zero, negative or
// empty override leaves the study's value.
struct EnsembleRequest {
  std::string method, metric, tta;
  std::string one_per;  // comma-separated parameter names, e.g. "backbone,head"
  int size = 0, candidates = 0, rounds = 0, init = 0, bags = 0;
  int top_n = -1;  // weights: 0 = no limit
  double bag_fraction = 0;
  int64_t seed = -1;
  bool include_pruned = false, one_per_backbone = false;  // add to the study's

  bool skip_missing = false;  // leave out candidates whose predictions cannot be loaded
  int threads = 0;            // selection threads; 0: one per hardware thread
  std::string out;            // submission path; empty: <artifacts>/submissions/ensemble-<n>.csv
  bool write_probs = false;   // also write the blended probabilities beside the submission
  std::string labels;         // eval labels; empty: eval_labels.csv beside the eval folder if any
};

// `spec` with the request's overrides. Throws UserError for an empty name in one_per and a
// bag_fraction outside (0, 1].
EnsembleSpec ResolveEnsembleSpec(EnsembleSpec spec, const EnsembleRequest& request);

// The selection a resolved spec asks for, on `threads` threads.
SelectionOptions SelectionFor(const EnsembleSpec& spec, int threads);

// The settings recorded with an ensemble: the method's own options only.
nlohmann::json SettingsJson(const EnsembleSpec& spec);

}  // namespace ensweep
