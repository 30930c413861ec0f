#include "ensemble/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include "core/error.h"
#include "core/npy.h"
#include "core/rng.h"
#include "ensemble/candidate_loading.h"
#include "ensemble/candidate_pool.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

// The study's trial numbered `number` (every candidate is one of the study's trials).
const TrialRecord& TrialNumbered(const std::vector<TrialRecord>& trials, int64_t number) {
  for (const auto& t : trials) {
    if (t.number == number) return t;
  }
  throw std::logic_error("no trial " + std::to_string(number) + " in the study");
}

// The numbers of person-level folds the candidates were trained with (each trial's "folds"
// metric; 1 for a hold-out split), smallest first.
std::set<int> FoldsOf(const std::vector<TrialRecord>& trials,
                      const std::vector<TrialPredictions>& candidates) {
  std::set<int> folds;
  for (const auto& c : candidates) {
    const Json& metrics = TrialNumbered(trials, c.number).metrics;
    const auto it = metrics.find("folds");
    folds.insert(it != metrics.end() && it->is_number() ? static_cast<int>(it->get<double>()) : 1);
  }
  return folds;
}

std::vector<double> OneHot(size_t size, size_t index) {
  std::vector<double> w(size, 0.0);
  w[index] = 1.0;
  return w;
}

std::string BackboneOf(const TrialRecord& trial) {
  const auto it = trial.params.find("backbone");
  return it == trial.params.end() ? "-" : it->is_string() ? it->get<std::string>() : it->dump();
}

// The study, its trials and the loaded candidates; the validation stacks built from them.
struct Inputs {
  StudySpec spec;
  EnsembleSpec e;
  std::vector<TrialRecord> trials;
  std::vector<TrialRecord> pool;
  LoadedCandidates loaded;
  CandidateStack stack;  // the candidates' validation probabilities
  // The honest estimate re-chooses the pool on each selection half, from a wider set: the pool
  // plus the best 4 x candidates eligible trials by the objective (any family).
  CandidateStack honest_stack;
  HalfPool half_pool;

  const std::vector<TrialPredictions>& candidates() const { return loaded.predictions; }
};

void CheckFamilyKeys(const StudySpec& spec, const std::vector<std::string>& family_keys) {
  for (const std::string& key : family_keys) {
    if (spec.space.Find(key) == nullptr) {
      throw UserError("one per '" + key +
                      "' (--one-per, ensemble.one_per): not a parameter of study " + spec.name +
                      "'s space");
    }
  }
}

// The eligible trials beyond the pool that the honest estimate may choose from.
std::vector<TrialRecord> WiderPool(const Inputs& in, bool maximize) {
  std::vector<TrialRecord> wider;
  const auto ranked = RankEligible(in.trials, maximize, in.e.include_pruned);
  const size_t limit = static_cast<size_t>(in.e.candidates) * 4;
  for (size_t i = 0; i < ranked.size() && i < limit; ++i) {
    bool in_pool = false;
    for (const auto& t : in.pool) in_pool = in_pool || t.number == ranked[i].number;
    if (!in_pool) wider.push_back(ranked[i]);
  }
  return wider;
}

Inputs LoadInputs(const Store& store, const StudyRecord& study, StudySpec spec, EnsembleSpec e,
                  bool skip_missing, const std::vector<std::string>& family_keys) {
  Inputs in;
  in.spec = std::move(spec);
  in.e = std::move(e);
  in.trials = store.Trials(study.id);
  in.pool = ChooseCandidates(in.trials, study.maximize,
                             {in.e.candidates, in.e.include_pruned, family_keys});
  if (in.pool.empty()) {
    throw UserError("study " + in.spec.name + " has no COMPLETE trial to ensemble yet");
  }
  const bool has_eval = !in.spec.data.eval.empty();
  in.loaded = LoadCandidates(store, in.pool, has_eval, skip_missing, OptionName(in.e.tta));
  const auto& candidates = in.candidates();
  std::vector<const Matrix*> val;
  for (const auto& c : candidates) val.push_back(&c.val_probs);
  in.stack = StackCandidates(val, candidates[0].val_labels);

  const std::vector<TrialPredictions> extra = LoadCompatible(
      store, WiderPool(in, study.maximize), candidates[0], has_eval, OptionName(in.e.tta));
  for (const auto& c : extra) val.push_back(&c.val_probs);
  in.honest_stack = StackCandidates(val, candidates[0].val_labels);
  in.half_pool.size = in.e.candidates;
  if (!family_keys.empty()) {
    for (const auto& c : candidates) {
      in.half_pool.families.push_back(FamilyOf(TrialNumbered(in.trials, c.number), family_keys));
    }
    for (const auto& c : extra) {
      in.half_pool.families.push_back(FamilyOf(TrialNumbered(in.trials, c.number), family_keys));
    }
  }
  return in;
}

// The honest estimates of the ensemble and of the best single candidate, if the validation rows
// have two persons or more.
void EstimateHonestly(const Inputs& in, const SelectionOptions& selection, EnsembleOutcome& out) {
  try {
    const PersonHalves halves = SplitPersonsInHalves(
        in.candidates()[0].val_persons, DeriveSeed(in.e.seed, StableHash("honest-halves")));
    out.honest = EstimateHonestly(in.honest_stack, halves, selection, in.half_pool).mean;
    SelectionOptions best_one = selection;
    best_one.method = "uniform";
    best_one.size = 1;
    out.best_single_honest = EstimateHonestly(in.honest_stack, halves, best_one, in.half_pool).mean;
  } catch (const std::invalid_argument& error) {
    out.honest.reset();
    out.no_honest_estimate = error.what();
  }
  out.honest_pool = in.honest_stack.candidates;
}

// The members with a positive weight, heaviest first; returns their candidate indices.
std::vector<size_t> ListMembers(const Inputs& in, const std::vector<double>& weights,
                                EnsembleOutcome& out) {
  std::vector<size_t> members;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] > 0) members.push_back(i);
  }
  std::stable_sort(members.begin(), members.end(),
                   [&](size_t a, size_t b) { return weights[a] > weights[b]; });
  const std::vector<BlendScore> each = ScoreEachCandidate(in.stack);
  for (size_t i : members) {
    const int64_t number = in.candidates()[i].number;
    out.members.push_back(
        {number, weights[i], each[i], BackboneOf(TrialNumbered(in.trials, number))});
  }
  return members;
}

void FillRecord(const Inputs& in, const StudyRecord& study, EnsembleOutcome& out) {
  EnsembleRecord& record = out.record;
  record.study_id = study.id;
  record.method = OptionName(in.e.method);
  record.settings = SettingsJson(in.e);
  for (const auto& m : out.members) {
    record.member_numbers.push_back(m.trial);
    record.weights.push_back(m.weight);
  }
  Json candidate_numbers = Json::array();
  for (const auto& c : in.candidates()) candidate_numbers.push_back(c.number);
  record.settings["candidate_trials"] = candidate_numbers;
  if (!out.skipped.empty()) record.settings["skipped"] = out.skipped;
  record.settings["honest_pool_trials"] = out.honest_pool;
  record.settings["validation_rows"] = out.validation_rows;
  record.settings["folds"] = out.folds.size() == 1
                                 ? Json(*out.folds.begin())
                                 : Json(std::vector<int>(out.folds.begin(), out.folds.end()));
  record.metrics = {{"val_macro_f1", out.in_sample.macro_f1},
                    {"val_accuracy", out.in_sample.accuracy},
                    {"val_log_loss", out.in_sample.log_loss},
                    {"best_single_trial", out.best_single_trial},
                    {"best_single_val_macro_f1", out.best_single.macro_f1}};
  if (out.honest) {
    record.metrics["honest_macro_f1"] = out.honest->macro_f1;
    record.metrics["honest_accuracy"] = out.honest->accuracy;
    record.metrics["honest_log_loss"] = out.honest->log_loss;
    record.metrics["best_single_honest_macro_f1"] = out.best_single_honest->macro_f1;
  }
}

// Writes the submission (and with write_probs the blended probabilities) and scores it against
// the eval labels if there are any.
void WriteSubmissionAndScore(const Inputs& in, const Store& store, const StudyRecord& study,
                             const EnsembleRequest& request, const std::vector<size_t>& members,
                             const std::vector<double>& weights, EnsembleOutcome& out) {
  std::vector<const Matrix*> eval;
  std::vector<double> eval_weights;
  for (size_t i : members) {
    eval.push_back(&*in.candidates()[i].eval_probs);
    eval_weights.push_back(weights[i]);
  }
  const Matrix blended_eval = WeightedAverage(eval, eval_weights);
  std::string path = request.out;
  if (path.empty()) {
    const size_t n = store.Ensembles(study.id).size() + 1;
    path =
        (fs::path(in.spec.artifacts) / "submissions" / ("ensemble-" + std::to_string(n) + ".csv"))
            .string();
  }
  const SubmissionTarget target = SubmissionTargetFor(in.spec.data);
  WriteSubmission(target, blended_eval, path);
  out.submission = out.record.submission_path = fs::absolute(path).string();
  out.submission_rows = blended_eval.rows;
  if (request.write_probs) {
    out.probs_stem = fs::path(out.submission).replace_extension("").string();
    WriteNpy(out.probs_stem + ".eval_probs.npy", blended_eval);
    WriteNpy(out.probs_stem + ".val_probs.npy", Blend(in.stack, weights));
    out.record.settings["probs"] = {out.probs_stem + ".eval_probs.npy",
                                    out.probs_stem + ".val_probs.npy"};
  }
  const std::string labels = FindEvalLabels(request.labels, in.spec.data.eval);
  if (labels.empty()) return;
  EnsembleEvalScore score;
  score.labels = labels;
  score.ensemble = ScoreSubmission(path, labels);
  score.best_single = ScorePredictions(target, *in.candidates()[0].eval_probs, labels);
  out.record.metrics["eval_macro_f1"] = score.ensemble.macro_f1;
  out.record.metrics["eval_accuracy"] = score.ensemble.accuracy;
  out.record.metrics["best_single_eval_macro_f1"] = score.best_single.macro_f1;
  out.eval = score;
}

}  // namespace

EnsembleOutcome BuildEnsemble(Store& store, const StudyRecord& study,
                              const EnsembleRequest& request) {
  const double started = NowSeconds();
  EnsembleOutcome out;
  StudySpec spec = StudyFromJson(study.spec);
  out.spec = ResolveEnsembleSpec(spec.ensemble, request);
  out.family_keys = FamilyKeys(out.spec);
  CheckFamilyKeys(spec, out.family_keys);
  const Inputs in =
      LoadInputs(store, study, std::move(spec), out.spec, request.skip_missing, out.family_keys);
  out.skipped = in.loaded.skipped;
  out.candidates = static_cast<int64_t>(in.candidates().size());
  out.best_single_trial = in.candidates()[0].number;
  out.validation_rows = in.stack.rows;
  out.folds = FoldsOf(in.trials, in.candidates());

  const SelectionOptions selection = SelectionFor(in.e, request.threads);
  const std::vector<double> weights = SelectEnsemble(in.stack, selection);
  out.in_sample = ScoreBlend(in.stack, weights);
  out.best_single = ScoreBlend(in.stack, OneHot(weights.size(), 0));
  EstimateHonestly(in, selection, out);
  const std::vector<size_t> members = ListMembers(in, weights, out);
  FillRecord(in, study, out);
  if (!in.spec.data.eval.empty()) {
    WriteSubmissionAndScore(in, store, study, request, members, weights, out);
  }
  out.record.metrics["seconds"] = NowSeconds() - started;
  out.record.id = store.AddEnsemble(out.record);
  return out;
}

std::string FindEvalLabels(const std::string& given, const std::string& eval_dir) {
  if (!given.empty()) return given;
  if (eval_dir.empty()) return "";
  const fs::path beside = fs::path(eval_dir).parent_path() / "eval_labels.csv";
  return fs::exists(beside) ? beside.string() : "";
}

}  // namespace ensweep
