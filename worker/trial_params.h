// The parameters a trial may set, validated once before any training starts.
//
// A study's search space produces a JSON object of name -> value per trial. The worker accepts
// exactly the names below; any other name fails the trial with a message listing the known ones
// (a typo in a study must not silently train with a default).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ensweep {

struct TrialParams {
  std::string backbone = "custom_cnn";  // see KnownBackbones()
  std::string optimizer = "sgd";        // sgd | adam
  double lr = 0.01;                     // > 0
  double weight_decay = 0.0;            // >= 0; L2 penalty applied by the optimiser
  double momentum = 0.9;                // [0, 1); used by sgd only (accepted and unused with adam,
                                        // so one space can hold a constant momentum for both)
  double flip_p = 0.5;                  // [0, 1]; probability of a horizontal flip per image
  int batch_size = 32;                  // >= 1
  int epochs = 1;                       // >= 1; the request's epochs unless the trial sets it
};

// Backbone names the worker can build, in the order shown in messages.
const std::vector<std::string>& KnownBackbones();

// Known parameter names, sorted.
const std::vector<std::string>& KnownTrialParams();

// Parses `params` (an object, or null for all defaults). `default_epochs` is the request's epoch
// budget. Throws std::invalid_argument naming the parameter and what was expected.
TrialParams ParseTrialParams(const nlohmann::json& params, int default_epochs);

}  // namespace ensweep
