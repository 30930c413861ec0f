// Pruners: decide, at each per-epoch report, whether a running trial stops now.
//
// A pruner is a pure function of the per-epoch objective values of every trial in the study (the
// stored history, including the reporting trial's own values up to this epoch) and the study seed,
// so a resumed study prunes exactly as an uninterrupted one would. Asynchronous: it never waits
// for other trials, it compares with whatever has been reported so far. No I/O; not thread-safe.
//
// Types (PrunerSpec; E = budget.epochs, r = min_epochs, eta = reduction):
//   none       never prunes.
//   median     the median stopping rule: at epoch e >= r (e < E), once `startup_trials` trials are
//              COMPLETE, stop a trial whose best value so far is worse than the median of the
//              COMPLETE trials' values at epoch e (Optuna's MedianPruner).
//   asha       asynchronous successive halving: rungs at epochs r, r*eta, r*eta^2, ... below E. At
//              a rung a trial continues only if its value there is among the best
//              floor(n/eta) of the n trials that have reported at that rung (itself included;
//              while n < eta it must be the best so far). Others stop (Li et al. 2020; the same
//              rule as Optuna's SuccessiveHalvingPruner).
//   hyperband  several ASHA brackets: bracket s (0..s_max, s_max = the number of asha rungs) has
//              its first rung at r*eta^s, so bracket s_max never prunes. A trial's bracket is a
//              seeded hash of its number, weighted as Hyperband allocates trials
//              (eta^(s_max-s) / (s_max-s+1)); a trial competes only within its bracket.
// A trial is never pruned at its last epoch (there is nothing left to save).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

// What a pruner knows of one trial: its state and its objective value per reported epoch.
struct TrialCurve {
  TrialState state = TrialState::kRunning;
  std::map<int, double> values;  // epoch (1-based) -> objective
};
using Curves = std::map<int64_t, TrialCurve>;  // by trial number

class Pruner {
 public:
  virtual ~Pruner() = default;
  // True to stop trial `number` after `epoch`; `curves` holds that epoch's value already.
  virtual bool ShouldPrune(int64_t number, int epoch, const Curves& curves) const = 0;
};

// The pruner named by spec.pruner.type.
std::unique_ptr<Pruner> MakePruner(const StudySpec& spec);

// ASHA's rung epochs: min_epochs * reduction^(k + first_rung) for k = 0, 1, ... while below
// max_epochs.
std::vector<int> AshaRungs(int min_epochs, int reduction, int max_epochs, int first_rung = 0);

// The hyperband bracket of trial `number` (0 = the most aggressive), among `brackets`.
int HyperbandBracket(uint64_t seed, int64_t number, int brackets, int reduction);

}  // namespace ensweep
