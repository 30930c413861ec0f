// Parameter importance of a study: fANOVA (Hutter, Hoos and Leyton-Brown, ICML 2014) on a random
// forest fitted to the completed trials, the method of Optuna's default importance evaluator
// (optuna.importance.FanovaImportanceEvaluator). Pure code: no store, no threads left behind.
//
// The data. The trials used are the COMPLETE ones with a finite value (the study's objective,
// whatever its direction: fANOVA decomposes its variance). Beyond kMaxImportanceTrials of them, a
// uniform random subset of that many, drawn with the seed, is used (trials_used says how many),
// so that the forest costs no more beyond 5,000 trials (studies/README.md gives a measured time).
//
// The encoding (as Optuna's _SearchSpaceTransform): one column per numeric parameter (uniform and
// int ranges as they are, loguniform and `log: true` ints in log space, where they are sampled
// uniformly; Optuna 3.1 keeps those linear), one 0/1 column per choice of a categorical
// parameter (per choice that occurs among the trials; beyond 32 of them, the 31 most frequent
// have a column and the others share the last one). Each column's domain is the parameter's range
// (the choices: [0, 1]), widened to the values the trials hold (an enqueued value outside the
// range). Constant parameters are left out; a parameter that takes a single value among the
// trials gets importance 0 (a categorical's value that is not one of its choices counts as
// absent).
//
// Conditional parameters (a `when` in the space; absent from some trials). Optuna assesses only
// the parameters present in every trial it uses. Here every parameter is assessed: where a
// parameter is absent, its columns get a value drawn with the seed uniformly over its domain (a
// choice drawn uniformly). The objective of a trial without the parameter does not depend on it,
// so any value is true to it, and a random one carries no information about the parameter's
// presence: the tree cannot learn "absent" from it, the presence stays the importance of the
// parameter in its `when`, and the conditional parameter's own importance measures what its value
// does in the trials that have it. A parameter absent from every trial used is left out.
//
// The forest: kImportanceTrees regression trees, each grown on a bootstrap sample of the trials,
// every column considered at every split (the one with the largest decrease of squared error, at
// the midpoint between two neighbouring values), max depth 64, min samples split 2, min samples
// leaf 1 (scikit-learn's RandomForestRegressor as Optuna configures it). For each tree, the
// variance of the marginal of each parameter (its columns together) over the tree's leaf
// partition of the domain, divided by the tree's total variance; the fractions are averaged over
// the trees with a positive variance, then normalised to sum 1.
//
// Deterministic: the same trials and seed give the same result on every machine and any number of
// threads (each tree has its own random stream, derived from the seed and its index).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

inline constexpr int64_t kMaxImportanceTrials = 5000;
inline constexpr int kImportanceTrees = 64;

struct ParamImportance {
  std::string param;
  double importance = 0;
};

struct ImportanceResult {
  std::string method = "fanova";
  int64_t trials_used = 0;  // COMPLETE trials with a finite value, after subsampling
  uint64_t seed = 0;
  // Descending (ties by name), summing to 1. Empty with fewer than 2 trials used, when the
  // objective is the same in all of them, or when no parameter varies.
  std::vector<ParamImportance> importances;
};

// From the COMPLETE trials with a value among `trials`; `spec` gives the space (parameters,
// ranges, choices). Uses up to `threads` threads (0: one per hardware thread).
ImportanceResult ComputeImportance(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   uint64_t seed = 0, int threads = 0);

// The result as JSON: {"method", "trials_used", "seed", "importances": [{"param", "importance"}]}.
nlohmann::json ImportanceToJson(const ImportanceResult& result);

// For conformance tests of the decomposition: the forest's first tree, as JSON
// {"columns": d, "nodes": [[column, threshold or value, left, right], ...] (the root first; a
// leaf's column is -1), "params": [{"param", "columns": [...]}], "fractions": [per param: its
// marginal's share of the tree's variance] (empty when the tree is constant)}, in the unit cube
// of the encoded columns; null when ComputeImportance would fit nothing.
nlohmann::json FirstImportanceTree(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   uint64_t seed = 0);

}  // namespace ensweep
