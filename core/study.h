// The study file: YAML or JSON, loaded once and validated into StudySpec.
//
// Every key is checked on load. Unknown keys, wrong types and impossible ranges raise UserError
// with one message that names the file, the line where known, the key path and what was expected.
// Relative paths in the file (storage, artifacts, data folders) are resolved against the folder
// that holds the study file. Defaults are the documented ones below; see studies/README.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/study_options.h"

namespace ensweep {

using Json = nlohmann::json;

enum class ParamKind { kConstant, kChoice, kUniform, kLogUniform, kInt };

// `when: {head: multitask}` or `when: {head: [single, multitask]}`: the parameter exists only in
// trials where every named parameter is present and takes one of the listed values.
struct Condition {
  std::string param;
  std::vector<Json> values;
};

struct ParamSpec {
  std::string name;
  ParamKind kind = ParamKind::kConstant;
  Json constant;              // kConstant
  std::vector<Json> choices;  // kChoice, non-empty
  double low = 0, high = 0;   // kUniform, kLogUniform (low > 0), kInt (integers)
  int64_t step = 1;           // kInt
  bool log = false;           // kInt: sample on a log scale (low >= 1)
  std::vector<Condition> when;
};

// Parameters in file order; a condition refers only to parameters declared before it is checked
// (any order in the file is accepted: the order of evaluation is resolved at load).
struct SearchSpace {
  std::vector<ParamSpec> params;  // topologically ordered: a parameter follows those in its `when`
  const ParamSpec* Find(const std::string& name) const;
};

struct SplitSpec {
  SplitBy by = SplitBy::kPerson;
  double val_fraction = 0.2;
  int folds = 1;
  uint64_t seed = 0;
};

struct DataSpec {
  DataFormat format = DataFormat::kMask;
  std::string train;  // absolute after load
  std::string eval;   // optional; absolute after load, empty if absent
  int width = 96, height = 128;
  SplitSpec split;
  // Label corrections (core/data_edits.h): absolute paths after load, empty if absent. The listing
  // relabels, then excludes, the training images they name; the data is never modified.
  std::string exclude;
  std::string relabel;
};

struct ObjectiveSpec {
  std::string metric = "val_macro_f1";
  bool maximize = true;
  // `scope: best` (the default): a trial's value, final metrics, predictions and checkpoint are
  // those of its best epoch by `metric` and the direction (metric best_epoch records which);
  // `scope: last`: those of its last epoch. The pruner sees every epoch's value either way.
  bool best_epoch = true;
};

struct BudgetSpec {
  int64_t trials = 16;
  int epochs = 3;
  double time_s = 0;  // 0: no wall-time limit
  // Stop starting trials once a COMPLETE trial's objective reaches this value (>= when
  // maximising, <= when minimising); trials already running finish.
  std::optional<double> target;
};

// TPE (search/tpe_sampler.h) reads every field; random and grid read only type and seed.
struct SamplerSpec {
  SamplerType type = SamplerType::kRandom;
  int startup_trials = 10;  // tpe: random proposals until this many trials have a value
  uint64_t seed = 0;
  // tpe: candidates drawn from l(x) per proposal; when the study file gives none, 4, or
  // kMultivariateCandidates with `multivariate` (the joint density is sharper and gains from more).
  static constexpr int kMultivariateCandidates = 12;
  int candidates = 4;
  double gamma = 0.15;        // tpe: fraction of trials in the good group ...
  int gamma_cap = 25;         // ... at most this many
  bool constant_liar = true;  // tpe: running trials count as bad, so parallel proposals spread
  bool multivariate = false;  // tpe: one joint density over the unconditional parameters
  // tpe: once more than this many trials per searched parameter have a value, the kernels' minimum
  // bandwidth (Optuna's magic clip) shrinks as sqrt(this * parameters / trials), so a well-sampled
  // space is refined more finely (search/tpe_sampler.h). 0 keeps Optuna's clip throughout. Not a
  // study-file key: a constant of the sampler, a field so that benchmarks can vary it.
  double refine_after_per_param = 12;
};

// Pruners (search/pruner.h) decide at every per-epoch report.
struct PrunerSpec {
  PrunerType type = PrunerType::kNone;
  int min_epochs = 1;      // no trial is pruned before this epoch; asha's first rung
  int reduction = 3;       // asha/hyperband: keep the best 1/reduction at each rung
  int startup_trials = 5;  // median: prune only once this many trials are COMPLETE
};

// What trains a trial. kTorch is the LibTorch trainer (worker/); the others are built-in
// objectives without training (objectives/): branin, hartmann6 (minimised; parameters x1..x6)
// and curve (a simulated learning curve reported per epoch).
struct TrainerSpec {
  TrainerType type = TrainerType::kTorch;
  double epoch_time_s = 0;  // objectives: wall time spent per epoch (simulated training)
  double noise = 0.01;      // curve: standard deviation of per-epoch noise
};

struct ResourceSpec {
  // Slots (one GPU, or one worker process on CPUs) each trial runs on; > 1 makes every trial a
  // gang (core/trainer.h GangInfo). A trial's own `slots_per_trial` parameter (from the space or
  // `enqueue`) overrides it. `gpus_per_trial`, its old name, is read as an alias with a warning.
  int slots_per_trial = 1;
  int max_retries = 2;  // a STALE trial is retried this many times
  double heartbeat_timeout_s = 120;
};

// `ensweep ensemble` defaults (ensemble/selection.h); its command-line options override them.
struct EnsembleSpec {
  int candidates = 20;  // the best COMPLETE trials by the objective
  EnsembleMethod method = EnsembleMethod::kUniform;
  int size = 5;  // uniform: members (the best k candidates)
  EnsembleTta tta = EnsembleTta::kNone;
  int rounds = 25;            // greedy: picks in all, with replacement
  int init = 1;               // greedy: sorted initialisation with the best n
  int bags = 1;               // greedy: 1 = no bagging
  double bag_fraction = 0.5;  // greedy: share of the candidates each bag may pick from
  EnsembleMetric metric = EnsembleMetric::kMacroF1;  // greedy and uniform select on it
  int top_n = 0;                     // weights: keep at most n members (0: no limit)
  bool include_pruned = false;       // PRUNED trials join the candidates
  bool one_per_backbone = false;     // at most one candidate per backbone (one_per: [backbone])
  std::vector<std::string> one_per;  // at most one candidate per tuple of these parameters' values
  uint64_t seed = 0;                 // ties, bags and the honest estimate's person halves
};

// `checkpoints: {keep: N | all | none}`: whose checkpoint files the study keeps; predictions are
// always kept. The coordinator deletes the others as trials end (orchestrator/retention.h).
struct CheckpointSpec {
  static constexpr int64_t kAll = -1;
  int64_t keep = kAll;  // kAll; 0 (none); N: the best N COMPLETE trials' by the objective
};

struct StudySpec {
  std::string name;
  std::string source_path;  // the file it was loaded from (absolute), empty if built in code
  std::string storage;      // absolute path of the SQLite file
  std::string artifacts;    // absolute path of the artifact folder
  DataSpec data;
  ObjectiveSpec objective;
  BudgetSpec budget;
  SamplerSpec sampler;
  PrunerSpec pruner;
  ResourceSpec resources;
  std::vector<Json> enqueue;  // each an object of fixed parameter values
  SearchSpace space;
  EnsembleSpec ensemble;
  TrainerSpec trainer;
  CheckpointSpec checkpoints;

  // The normalised spec (defaults filled, absolute paths); its hash identifies the study's content.
  Json ToJson() const;
};

// Loads and validates a study file (YAML, or JSON which YAML reads too). Throws UserError naming
// the file, the line and the key path for anything wrong in it, including a file that is missing,
// unreadable, larger than 16 MiB, not UTF-8, nested deeper than 64 levels or holding more than
// 100,000 values once its aliases are expanded (core/study_document.h).
//
// Trial parameters are checked too, against what the trainer reads: for torch, every `space` key,
// constant, range end, choice and `enqueue` value against core/trial_params.h (a typo names the
// closest parameter); for branin and hartmann6, the names x1, x2 (x1..x6) must be unconditional
// parameters of the space; curve reads any parameter, so its space is not checked.
//
// Keys that have no effect with the chosen method (ensemble.size under method greedy,
// pruner.reduction under median, ...) do not stop the load: each gives a warning
// "file:line: warning: 'key': ..." that goes to `warnings` when given, else to standard error.
StudySpec LoadStudyFile(const std::string& path, std::vector<std::string>* warnings = nullptr);

// LoadStudyFile for text already in memory: `origin` names it in messages, `base_dir` resolves
// its relative paths; source_path stays empty.
StudySpec LoadStudyText(const std::string& text, const std::string& origin,
                        const std::string& base_dir, std::vector<std::string>* warnings = nullptr);

// Validates an already parsed document, built in code (tests, benchmarks). `origin` names it in
// messages; `base_dir` resolves relative paths. Unlike LoadStudyFile it leaves the trial
// parameters unchecked against the trainer (a document in code may use any names with the default
// trainer) and gives no warnings.
StudySpec ParseStudy(const Json& document, const std::string& origin, const std::string& base_dir);

// Rebuilds a StudySpec from ToJson() output (as sent to workers or stored); throws UserError.
// It leaves out `enqueue` against budget.trials (the trials a study file has, which a stored
// study extended by `ensweep run --trials` may have outgrown), the trial parameters against the
// trainer (a study stored before that check existed stays readable; its trials say what is
// wrong) and the warnings.
StudySpec StudyFromJson(const Json& normalised);

// Slots per trial: at most this many workers ever train one trial of the study.
inline constexpr int kMaxSlotsPerTrial = 64;
// The slots trial parameters `params` ask for: their `slots_per_trial` when it is an integer,
// else the study's resources.slots_per_trial.
int SlotsOfTrial(const StudySpec& spec, const Json& params);
// The most slots any trial of the study can ask for (resources.slots_per_trial, every value the
// space's `slots_per_trial` can take, every `enqueue` entry's).
int MaxSlotsPerTrial(const StudySpec& spec);

// "2h", "90m", "45s", "1h30m", or a number of seconds. Throws UserError naming `where`.
double ParseDurationSeconds(const Json& value, const std::string& where);

const char* ParamKindName(ParamKind kind);
// uniform and log_uniform: values that a grid cannot list and a `when` cannot match.
inline bool Continuous(ParamKind kind) {
  return kind == ParamKind::kUniform || kind == ParamKind::kLogUniform;
}

}  // namespace ensweep
