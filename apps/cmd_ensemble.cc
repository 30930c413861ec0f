// `ensweep ensemble` (choose and blend the best trials into a submission, list
// and show recorded ensembles) and `ensweep score`.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>
#include <stdexcept>

#include "apps/commands.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/rng.h"
#include "ensemble/blend.h"
#include "ensemble/candidate_loading.h"
#include "ensemble/candidate_pool.h"
#include "ensemble/selection.h"
#include "ensemble/submission.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

// Hidden eval labels for local scoring: --labels, else eval_labels.csv beside
// the eval folder (where `ensweep datagen` writes it).
std::string FindLabels(const std::string &given, const std::string &eval_dir) {
  if (!given.empty()) return given;
  if (eval_dir.empty()) return "";
  const fs::path beside = fs::path(eval_dir).parent_path() / "eval_labels.csv";
  return fs::exists(beside) ? beside.string() : "";
}

std::string TimeText(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return text;
}

std::string MetricText(const Json &metrics, const std::string &key) {
  return metrics.contains(key) && metrics[key].is_number()
             ? FormatFixed(metrics[key].get<double>(), 4)
             : "-";
}

struct EnsembleOptions {
  StudyLocator locator;
  std::string method, metric, out, labels, tta, one_per, format = "csv";
  int size = 0, candidates = 0, rounds = 0, init = 0, bags = 0, top_n = -1, threads = 0;
  double bag_fraction = 0;
  int64_t seed = -1;
  bool include_pruned = false, one_per_backbone = false, skip_missing = false, list = false;
  int64_t show = 0;
};

// The study's `ensemble:` block with the command line's options on top.
EnsembleSpec Resolve(EnsembleSpec e, const EnsembleOptions &o) {
  if (!o.method.empty()) e.method = *ParseOption<EnsembleMethod>(o.method);
  if (!o.metric.empty()) e.metric = *ParseOption<EnsembleMetric>(o.metric);
  if (o.size > 0) e.size = o.size;
  if (o.candidates > 0) e.candidates = o.candidates;
  if (o.rounds > 0) e.rounds = o.rounds;
  if (o.init > 0) e.init = o.init;
  if (o.bags > 0) e.bags = o.bags;
  if (o.bag_fraction > 0) e.bag_fraction = o.bag_fraction;
  if (o.top_n >= 0) e.top_n = o.top_n;
  if (o.seed >= 0) e.seed = static_cast<uint64_t>(o.seed);
  e.include_pruned = e.include_pruned || o.include_pruned;
  e.one_per_backbone = e.one_per_backbone || o.one_per_backbone;
  if (!o.one_per.empty()) {
    e.one_per.clear();
    size_t start = 0;
    while (true) {
      const size_t comma = o.one_per.find(',', start);
      const std::string key = o.one_per.substr(start, comma - start);
      if (key.empty()) throw UserError("--one-per: expected parameter names, e.g. backbone,head");
      if (std::find(e.one_per.begin(), e.one_per.end(), key) == e.one_per.end()) {
        e.one_per.push_back(key);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (!o.tta.empty()) e.tta = *ParseOption<EnsembleTta>(o.tta);
  if (e.bag_fraction <= 0 || e.bag_fraction > 1) throw UserError("--bag-fraction: expected (0, 1]");
  return e;
}

SelectionOptions ToSelection(const EnsembleSpec &e, int threads) {
  SelectionOptions s;
  s.method = OptionName(e.method);
  s.size = e.size;
  s.greedy.rounds = e.rounds;
  s.greedy.init_size = e.init;
  s.greedy.bags = e.bags;
  s.greedy.bag_fraction = e.bag_fraction;
  s.greedy.metric =
      e.metric == EnsembleMetric::kLogLoss ? SelectionMetric::kLogLoss : SelectionMetric::kMacroF1;
  s.greedy.seed = e.seed;
  s.greedy.threads = threads;
  s.weights.max_members = e.top_n;
  return s;
}

Json SettingsJson(const EnsembleSpec &e) {
  Json j = {{"method", OptionName(e.method)},
            {"candidates", e.candidates},
            {"metric", OptionName(e.metric)},
            {"include_pruned", e.include_pruned},
            {"one_per", FamilyKeys(e)},
            {"tta", OptionName(e.tta)},
            {"seed", e.seed}};
  if (e.method == EnsembleMethod::kUniform) j["size"] = e.size;
  if (e.method == EnsembleMethod::kGreedy) {
    j.update({{"rounds", e.rounds},
              {"init", e.init},
              {"bags", e.bags},
              {"bag_fraction", e.bag_fraction}});
  }
  if (e.method == EnsembleMethod::kWeights) j["top_n"] = e.top_n;
  return j;
}

int ListEnsembles(const StudyLocator::Found &found) {
  TextTable table({"id", "method", "members", "val_macro_f1", "honest_macro_f1", "eval_macro_f1",
                   "created", "submission"});
  for (const auto &r : found.store->Ensembles(found.study.id)) {
    table.AddRow({std::to_string(r.id), r.method, std::to_string(r.member_numbers.size()),
                  MetricText(r.metrics, "val_macro_f1"), MetricText(r.metrics, "honest_macro_f1"),
                  MetricText(r.metrics, "eval_macro_f1"), TimeText(r.created_at),
                  r.submission_path.empty() ? "-" : r.submission_path});
  }
  std::cout << table.Render();
  return 0;
}

int ShowEnsemble(const StudyLocator::Found &found, int64_t id) {
  for (const auto &r : found.store->Ensembles(found.study.id)) {
    if (r.id != id) continue;
    std::cout << "ensemble " << r.id << " of study " << found.study.name << "\n  method      "
              << r.method << "\n  created     " << TimeText(r.created_at) << "\n  submission  "
              << (r.submission_path.empty() ? "-" : r.submission_path) << "\n  settings    "
              << r.settings.dump() << "\n  metrics\n";
    for (const auto &[name, value] : r.metrics.items()) {
      std::cout << "    " << name << "  "
                << (value.is_number_float() ? FormatFixed(value, 4) : value.dump()) << "\n";
    }
    TextTable members({"trial", "weight"});
    for (size_t i = 0; i < r.member_numbers.size(); ++i) {
      members.AddRow({std::to_string(r.member_numbers[i]), FormatFixed(r.weights[i], 4)});
    }
    std::cout << members.Render();
    return 0;
  }
  throw UserError("study " + found.study.name + " has no ensemble " + std::to_string(id) +
                  " (`ensweep ensemble --list` lists them)");
}

std::vector<double> OneHot(size_t size, size_t index) {
  std::vector<double> w(size, 0.0);
  w[index] = 1.0;
  return w;
}

int BuildEnsemble(const EnsembleOptions &o);

// Upper bounds of the command line's counts: far above any useful value, low enough that a typo
// cannot start a selection that never ends (rounds and bags multiply the work) or a thread storm.
constexpr long long kMaxCount = 100000;
constexpr long long kMaxBags = 10000;
constexpr long long kMaxThreads = 1024;

}  // namespace

Command AddEnsembleCommand(CLI::App &root) {
  auto o = std::make_shared<EnsembleOptions>();
  CLI::App *app = root.add_subcommand("ensemble",
                                      "Choose an ensemble from the best trials' validation "
                                      "predictions (greedy selection with\n"
                                      "replacement, simplex weights or a uniform top k), report "
                                      "its in-sample score and an honest\n"
                                      "estimate (pool and ensemble chosen on half of the "
                                      "validation persons, scored on the other\n"
                                      "half, both ways), record it in the store and write a "
                                      "submission (eval/info.csv with ans\n"
                                      "filled). Defaults come from the study's ensemble: block. "
                                      "--list and --show ID print\n"
                                      "recorded ensembles.");
  o->locator.AddOptions(app);
  app->add_option("-m,--method", o->method, "uniform | greedy | weights (default: ensemble.method)")
      ->check(CLI::IsMember(OptionNames<EnsembleMethod>()));
  app->add_option("-k,--size", o->size,
                  "uniform: members, the best k candidates, 1 to 100000 (ensemble.size)")
      ->check(Between(1, kMaxCount));
  app->add_option("-c,--candidates", o->candidates,
                  "Candidate pool: the best n trials, 1 to 100000 (ensemble.candidates)")
      ->check(Between(1, kMaxCount));
  app->add_option("--rounds", o->rounds,
                  "greedy: picks with replacement, 1 to 100000 (ensemble.rounds, 25)")
      ->check(Between(1, kMaxCount));
  app->add_option("--init", o->init,
                  "greedy: start from the best n candidates, 1 to 100000 (ensemble.init, 1)")
      ->check(Between(1, kMaxCount));
  app->add_option("--bags", o->bags,
                  "greedy: bagged selections, averaged, 1 to 10000 (ensemble.bags, 1: none)")
      ->check(Between(1, kMaxBags));
  app->add_option("--bag-fraction", o->bag_fraction,
                  "greedy: share of candidates per bag, in (0, 1] (0.5)")
      ->check(CLI::Validator(
          [](std::string &text) -> std::string {
            // CLI::Range would let "nan" through (no comparison fails), and Resolve ignore it.
            try {
              size_t used = 0;
              const double value = std::stod(text, &used);
              if (used == text.size() && value > 0.0 && value <= 1.0) return "";
            } catch (const std::exception &) {
            }
            return "must be a fraction in (0, 1], got '" + text + "'";
          },
          "FRACTION in (0, 1]"));
  app->add_option("--metric", o->metric, "greedy/uniform select on macro_f1 or log_loss")
      ->check(CLI::IsMember(OptionNames<EnsembleMetric>()));
  app->add_option("--top-n", o->top_n, "weights: keep at most n members, 0 to 100000 (0: no limit)")
      ->check(Between(0, kMaxCount));
  app->add_option("--seed", o->seed, "Seed of ties, bags and the honest halves (ensemble.seed)")
      ->check(AtLeast(0));
  app->add_flag("--include-pruned", o->include_pruned, "PRUNED trials join the candidates");
  app->add_option("--one-per", o->one_per,
                  "Only the best candidate per family: trials with equal "
                  "values of these\n"
                  "parameters, e.g. backbone,head (ensemble.one_per)")
      ->type_name("PARAM,...");
  app->add_flag("--one-per-backbone", o->one_per_backbone, "Shorthand for --one-per backbone");
  app->add_option("--tta", o->tta,
                  "hflip: average each trial's predictions with its flipped "
                  "view (used as\n"
                  "stored if the trial itself had tta hflip); none: as stored "
                  "(ensemble.tta)")
      ->check(CLI::IsMember(OptionNames<EnsembleTta>()));
  app->add_flag("--skip-missing", o->skip_missing,
                "Leave out candidates whose prediction files are missing or "
                "corrupt (default: error)");
  app->add_option("--threads", o->threads,
                  "Selection threads, 0 to 1024 (default 0: one per hardware thread)")
      ->check(Between(0, kMaxThreads));
  app->add_option("-o,--out", o->out,
                  "Submission path (default: <artifacts>/submissions/ensemble-<n>.csv)");
  app->add_option("-f,--format", o->format,
                  "csv: the submission; probs: also the blended probabilities "
                  "beside it (.npy)")
      ->check(CLI::IsMember({"csv", "probs"}));
  app->add_option("--labels", o->labels,
                  "Eval labels (ImageID,ans, or path,label for imagefolder and csv data) "
                  "to score the submission (default: eval_labels.csv beside "
                  "the eval folder, if present)");
  CLI::Option *list = app->add_flag("--list", o->list, "List the study's recorded ensembles");
  app->add_option("--show", o->show, "Show one recorded ensemble, by its id (>= 1)")
      ->check(AtLeast(1))
      ->excludes(list);
  return {app, [o, app] {
            if (o->list || app->count("--show") > 0) {
              const auto found = o->locator.Open(/*writable=*/false);
              return o->list ? ListEnsembles(found) : ShowEnsemble(found, o->show);
            }
            return BuildEnsemble(*o);
          }};
}

namespace {

// The study's trial numbered `number` (every candidate is one of the study's trials).
const TrialRecord &TrialNumbered(const std::vector<TrialRecord> &trials, int64_t number) {
  for (const auto &t : trials) {
    if (t.number == number) return t;
  }
  throw std::logic_error("no trial " + std::to_string(number) + " in the study");
}

// The numbers of person-level folds the candidates were trained with (each trial's "folds"
// metric; 1 for a hold-out split), smallest first.
std::set<int> FoldsOf(const std::vector<TrialRecord> &trials,
                      const std::vector<TrialPredictions> &candidates) {
  std::set<int> folds;
  for (const auto &c : candidates) {
    const Json &metrics = TrialNumbered(trials, c.number).metrics;
    const auto it = metrics.find("folds");
    folds.insert(it != metrics.end() && it->is_number() ? static_cast<int>(it->get<double>()) : 1);
  }
  return folds;
}

int BuildEnsemble(const EnsembleOptions &o) {
  auto found = o.locator.Open(/*writable=*/true);
  const StudySpec spec = StudyFromJson(found.study.spec);
  const EnsembleSpec e = Resolve(spec.ensemble, o);
  const double started = NowSeconds();
  const std::vector<std::string> family_keys = FamilyKeys(e);
  for (const std::string &key : family_keys) {
    if (spec.space.Find(key) == nullptr) {
      throw UserError("one per '" + key +
                      "' (--one-per, ensemble.one_per): not a parameter of study " + spec.name +
                      "'s space");
    }
  }
  const std::vector<TrialRecord> trials = found.store->Trials(found.study.id);
  const auto pool =
      ChooseCandidates(trials, found.study.maximize, {e.candidates, e.include_pruned, family_keys});
  if (pool.empty())
    throw UserError("study " + spec.name + " has no COMPLETE trial to ensemble yet");
  const bool has_eval = !spec.data.eval.empty();
  const LoadedCandidates loaded =
      LoadCandidates(*found.store, pool, has_eval, o.skip_missing, OptionName(e.tta));
  for (const auto &why : loaded.skipped) std::cout << "skipped " << why << "\n";
  const auto &candidates = loaded.predictions;
  std::vector<const Matrix *> val;
  for (const auto &c : candidates) val.push_back(&c.val_probs);
  const CandidateStack stack = StackCandidates(val, candidates[0].val_labels);

  // The honest estimate re-chooses the pool on each selection half, from a
  // wider set: the pool plus the best 4 x candidates eligible trials by the
  // objective (any family).
  std::vector<TrialRecord> wider;
  {
    const auto ranked = RankEligible(trials, found.study.maximize, e.include_pruned);
    const size_t limit = static_cast<size_t>(e.candidates) * 4;
    for (size_t i = 0; i < ranked.size() && i < limit; ++i) {
      bool in_pool = false;
      for (const auto &t : pool) in_pool = in_pool || t.number == ranked[i].number;
      if (!in_pool) wider.push_back(ranked[i]);
    }
  }
  const std::vector<TrialPredictions> extra =
      LoadCompatible(*found.store, wider, candidates[0], has_eval, OptionName(e.tta));
  std::vector<const Matrix *> honest_val = val;
  for (const auto &c : extra) honest_val.push_back(&c.val_probs);
  const CandidateStack honest_stack = StackCandidates(honest_val, candidates[0].val_labels);
  HalfPool half_pool;
  half_pool.size = e.candidates;
  if (!family_keys.empty()) {
    auto family_of = [&](int64_t number) {
      return FamilyOf(TrialNumbered(trials, number), family_keys);
    };
    for (const auto &c : candidates) half_pool.families.push_back(family_of(c.number));
    for (const auto &c : extra) half_pool.families.push_back(family_of(c.number));
  }

  const SelectionOptions selection = ToSelection(e, o.threads);
  const std::vector<double> weights = SelectEnsemble(stack, selection);
  const BlendScore in_sample = ScoreBlend(stack, weights);
  const BlendScore single = ScoreBlend(stack, OneHot(weights.size(), 0));

  std::optional<HonestEstimate> honest, honest_single;
  try {
    const PersonHalves halves = SplitPersonsInHalves(
        candidates[0].val_persons, DeriveSeed(e.seed, StableHash("honest-halves")));
    honest = EstimateHonestly(honest_stack, halves, selection, half_pool);
    SelectionOptions best_one = selection;
    best_one.method = "uniform";
    best_one.size = 1;
    honest_single = EstimateHonestly(honest_stack, halves, best_one, half_pool);
  } catch (const std::invalid_argument &error) {
    std::cout << "no honest estimate: " << error.what() << "\n";
  }

  std::vector<size_t> members;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] > 0) members.push_back(i);
  }
  std::stable_sort(members.begin(), members.end(),
                   [&](size_t a, size_t b) { return weights[a] > weights[b]; });
  const std::vector<BlendScore> each = ScoreEachCandidate(stack);
  TextTable table({"trial", "weight", "val_macro_f1", "val_log_loss", "backbone"});
  for (size_t i : members) {
    const Json &params = TrialNumbered(trials, candidates[i].number).params;
    const auto it = params.find("backbone");
    const std::string backbone = it == params.end() ? "-"
                                 : it->is_string()  ? it->get<std::string>()
                                                    : it->dump();
    table.AddRow({std::to_string(candidates[i].number), FormatFixed(weights[i], 3),
                  FormatFixed(each[i].macro_f1, 4), FormatFixed(each[i].log_loss, 4), backbone});
  }
  std::cout << "ensemble (" << OptionName(e.method) << ") of "
            << CountOf(static_cast<long long>(members.size()), "trial") << " chosen from "
            << CountOf(static_cast<long long>(candidates.size()), "candidate") << " (the best by "
            << found.study.metric;
  if (!family_keys.empty()) {
    std::string keys;
    for (const auto &k : family_keys) keys += (keys.empty() ? "" : ",") + k;
    std::cout << ", one per " << keys;
  }
  std::cout << (e.tta == EnsembleTta::kHflip ? "; hflip TTA" : "") << ")\n" << table.Render();
  // Out-of-fold predictions (trials trained with data.split.folds > 1) cover every training
  // image; a hold-out split's only its validation images.
  // (The candidates share their validation rows, so out-of-fold trials never mix with hold-out
  // ones; trials of different k may.)
  const std::set<int> folds = FoldsOf(trials, candidates);
  std::string fold_text;
  for (int k : folds) fold_text += (fold_text.empty() ? "" : " and ") + std::to_string(k);
  std::cout << "selected on " << stack.rows << " validation images"
            << (*folds.rbegin() > 1
                    ? " out of fold (" + fold_text + "-fold trials: every training image)"
                    : " (the hold-out split)")
            << "\n";
  auto honest_text = [](const std::optional<HonestEstimate> &h) {
    return h ? FormatFixed(h->mean.macro_f1, 4) : std::string("-");
  };
  TextTable scores({"", "val_macro_f1 (in-sample)", "honest_macro_f1", "val_log_loss"});
  scores.AddRow({"ensemble", FormatFixed(in_sample.macro_f1, 4), honest_text(honest),
                 FormatFixed(in_sample.log_loss, 4)});
  scores.AddRow({"best single (trial " + std::to_string(candidates[0].number) + ")",
                 FormatFixed(single.macro_f1, 4), honest_text(honest_single),
                 FormatFixed(single.log_loss, 4)});
  std::cout << scores.Render()
            << "(in-sample: chosen and scored on the same validation set; "
               "honest: chosen on one half "
               "of the validation persons, scored on the other, both ways, "
               "averaged; on each half the "
               "pool is re-chosen from "
            << honest_stack.candidates << " trials by their scores on the selection half alone)\n";

  EnsembleRecord record;
  record.study_id = found.study.id;
  record.method = OptionName(e.method);
  record.settings = SettingsJson(e);
  for (size_t i : members) {
    record.member_numbers.push_back(candidates[i].number);
    record.weights.push_back(weights[i]);
  }
  Json candidate_numbers = Json::array();
  for (const auto &c : candidates) candidate_numbers.push_back(c.number);
  record.settings["candidate_trials"] = candidate_numbers;
  if (!loaded.skipped.empty()) record.settings["skipped"] = loaded.skipped;
  record.settings["honest_pool_trials"] = honest_stack.candidates;
  record.settings["validation_rows"] = stack.rows;
  record.settings["folds"] =
      folds.size() == 1 ? Json(*folds.begin()) : Json(std::vector<int>(folds.begin(), folds.end()));
  record.metrics = {{"val_macro_f1", in_sample.macro_f1},
                    {"val_accuracy", in_sample.accuracy},
                    {"val_log_loss", in_sample.log_loss},
                    {"best_single_trial", candidates[0].number},
                    {"best_single_val_macro_f1", single.macro_f1}};
  if (honest) {
    record.metrics["honest_macro_f1"] = honest->mean.macro_f1;
    record.metrics["honest_accuracy"] = honest->mean.accuracy;
    record.metrics["honest_log_loss"] = honest->mean.log_loss;
    record.metrics["best_single_honest_macro_f1"] = honest_single->mean.macro_f1;
  }

  if (has_eval) {
    std::vector<const Matrix *> eval;
    std::vector<double> eval_weights;
    for (size_t i : members) {
      eval.push_back(&*candidates[i].eval_probs);
      eval_weights.push_back(weights[i]);
    }
    const Matrix blended_eval = WeightedAverage(eval, eval_weights);
    std::string out = o.out;
    if (out.empty()) {
      const size_t n = found.store->Ensembles(found.study.id).size() + 1;
      out = (fs::path(spec.artifacts) / "submissions" / ("ensemble-" + std::to_string(n) + ".csv"))
                .string();
    }
    const SubmissionTarget target = SubmissionTargetFor(spec.data);
    WriteSubmission(target, blended_eval, out);
    record.submission_path = fs::absolute(out).string();
    std::cout << "submission: " << record.submission_path << " (" << blended_eval.rows
              << " rows)\n";
    if (o.format == "probs") {
      const fs::path stem = fs::path(record.submission_path).replace_extension("");
      WriteNpy(stem.string() + ".eval_probs.npy", blended_eval);
      WriteNpy(stem.string() + ".val_probs.npy", Blend(stack, weights));
      record.settings["probs"] = {stem.string() + ".eval_probs.npy",
                                  stem.string() + ".val_probs.npy"};
      std::cout << "blended probabilities: " << stem.string() << ".{eval,val}_probs.npy\n";
    }
    const std::string labels = FindLabels(o.labels, spec.data.eval);
    if (!labels.empty()) {
      const SubmissionScore score = ScoreSubmission(out, labels);
      const SubmissionScore single_eval =
          ScorePredictions(target, *candidates[0].eval_probs, labels);
      record.metrics["eval_macro_f1"] = score.macro_f1;
      record.metrics["eval_accuracy"] = score.accuracy;
      record.metrics["best_single_eval_macro_f1"] = single_eval.macro_f1;
      TextTable table({"", "macro_f1", "accuracy"});
      table.AddRow({"ensemble", FormatFixed(score.macro_f1, 4), FormatFixed(score.accuracy, 4)});
      table.AddRow({"best single (trial " + std::to_string(candidates[0].number) + ")",
                    FormatFixed(single_eval.macro_f1, 4), FormatFixed(single_eval.accuracy, 4)});
      std::cout << "eval score against " << labels << ":\n" << table.Render();
    }
  } else {
    std::cout << "no submission written: the study has no eval data (data.eval)\n";
  }
  record.metrics["seconds"] = NowSeconds() - started;
  const int64_t id = found.store->AddEnsemble(record);
  std::cout << "recorded as ensemble " << id << " of study " << spec.name
            << " (ensweep ensemble --show " << id << ")\n";
  return 0;
}

}  // namespace

Command AddScoreCommand(CLI::App &root) {
  struct Options {
    std::string submission;
    std::string labels;
    std::string format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App *app =
      root.add_subcommand("score",
                          "Score a submission against a labels file (ImageID,ans for the "
                          "competition format, path,label otherwise)");
  app->add_option("submission", o->submission, "Submission CSV (ImageID,ans or path,label)")
      ->required();
  app->add_option("--labels", o->labels,
                  "Labels CSV in the same format as the submission, e.g. "
                  "eval_labels.csv from datagen")
      ->required();
  app->add_option("-f,--format", o->format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  app->footer(
      "Macro F1 is scikit-learn's f1_score(average=\"macro\"), the competition's score: the mean\n"
      "F1 over the classes that occur in the labels or the predictions (a class in neither is\n"
      "left out; one predicted but never true, or true but never predicted, counts with F1 0).\n"
      "Every labelled image must have exactly one submission row: labelled images without a row\n"
      "are an error that names them (the first five and how many), as a competition scorer\n"
      "refuses a partial submission. Submission rows for images the labels do not list are\n"
      "counted and not scored. A labels file with no rows, an image labelled twice or a\n"
      "submission row repeated is an error naming the file and line (exit status 2).");
  return {app, [o] {
            const SubmissionScore score = ScoreSubmission(o->submission, o->labels);
            if (o->format == "json") {
              std::cout << nlohmann::json{{"rows", score.rows},
                                          {"unlabelled_rows", score.unlabelled},
                                          {"accuracy", score.accuracy},
                                          {"macro_f1", score.macro_f1}}
                               .dump(2)
                        << "\n";
            } else {
              std::cout << "rows      " << score.rows << "\naccuracy  "
                        << FormatFixed(score.accuracy, 4) << "\nmacro F1  "
                        << FormatFixed(score.macro_f1, 4) << "\n";
              if (score.unlabelled > 0) {
                std::cout << "(" << CountOf(score.unlabelled, "submission row")
                          << " not scored: the labels file does not list "
                          << (score.unlabelled == 1 ? "its image" : "their images") << ")\n";
              }
            }
            return 0;
          }};
}

}  // namespace ensweep
