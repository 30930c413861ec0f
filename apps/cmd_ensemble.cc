// `ensweep ensemble` (choose and blend the best trials into a submission, list
// and show recorded ensembles) and `ensweep score`.
#include <ctime>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "apps/commands.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "core/artifact_lock.h"
#include "core/error.h"
#include "core/text.h"
#include "ensemble/pipeline.h"
#include "ensemble/submission.h"

namespace ensweep {
namespace {

std::string TimeText(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return text;
}

std::string MetricText(const Json& metrics, const std::string& key) {
  return metrics.contains(key) && metrics[key].is_number()
             ? FormatFixed(metrics[key].get<double>(), 4)
             : "-";
}

struct EnsembleOptions {
  StudyLocator locator;
  EnsembleRequest request;
  std::string format = "csv";
  bool list = false;
  int64_t show = 0;
};

int ListEnsembles(const StudyLocator::Found& found) {
  TextTable table({"id", "method", "members", "val_macro_f1", "honest_macro_f1", "eval_macro_f1",
                   "created", "submission"});
  for (const auto& r : found.store->Ensembles(found.study.id)) {
    table.AddRow({std::to_string(r.id), r.method, std::to_string(r.member_numbers.size()),
                  MetricText(r.metrics, "val_macro_f1"), MetricText(r.metrics, "honest_macro_f1"),
                  MetricText(r.metrics, "eval_macro_f1"), TimeText(r.created_at),
                  r.submission_path.empty() ? "-" : r.submission_path});
  }
  std::cout << table.Render();
  return 0;
}

int ShowEnsemble(const StudyLocator::Found& found, int64_t id) {
  for (const auto& r : found.store->Ensembles(found.study.id)) {
    if (r.id != id) continue;
    std::cout << "ensemble " << r.id << " of study " << found.study.name << "\n  method      "
              << r.method << "\n  created     " << TimeText(r.created_at) << "\n  submission  "
              << (r.submission_path.empty() ? "-" : r.submission_path) << "\n  settings    "
              << r.settings.dump() << "\n  metrics\n";
    for (const auto& [name, value] : r.metrics.items()) {
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

// Prints the chosen members and what they were chosen from.
void PrintMembers(const EnsembleOutcome& out, const std::string& study_metric) {
  for (const auto& why : out.skipped) std::cout << "skipped " << why << "\n";
  if (!out.honest) std::cout << "no honest estimate: " << out.no_honest_estimate << "\n";
  TextTable table({"trial", "weight", "val_macro_f1", "val_log_loss", "backbone"});
  for (const auto& m : out.members) {
    table.AddRow({std::to_string(m.trial), FormatFixed(m.weight, 3),
                  FormatFixed(m.alone.macro_f1, 4), FormatFixed(m.alone.log_loss, 4), m.backbone});
  }
  std::cout << "ensemble (" << OptionName(out.spec.method) << ") of "
            << CountOf(static_cast<long long>(out.members.size()), "trial") << " chosen from "
            << CountOf(static_cast<long long>(out.candidates), "candidate") << " (the best by "
            << study_metric;
  if (!out.family_keys.empty()) {
    std::string keys;
    for (const auto& k : out.family_keys) keys += (keys.empty() ? "" : ",") + k;
    std::cout << ", one per " << keys;
  }
  std::cout << (out.spec.tta == EnsembleTta::kHflip ? "; hflip TTA" : "") << ")\n"
            << table.Render();
  // Out-of-fold predictions (trials trained with data.split.folds > 1) cover every training
  // image; a hold-out split's only its validation images.
  // (The candidates share their validation rows, so out-of-fold trials never mix with hold-out
  // ones; trials of different k may.)
  std::string fold_text;
  for (int k : out.folds) fold_text += (fold_text.empty() ? "" : " and ") + std::to_string(k);
  std::cout << "selected on " << out.validation_rows << " validation images"
            << (*out.folds.rbegin() > 1
                    ? " out of fold (" + fold_text + "-fold trials: every training image)"
                    : " (the hold-out split)")
            << "\n";
}

// Prints the in-sample and honest validation scores of the ensemble and the best single trial.
void PrintScores(const EnsembleOutcome& out) {
  auto honest_text = [](const std::optional<BlendScore>& h) {
    return h ? FormatFixed(h->macro_f1, 4) : std::string("-");
  };
  TextTable scores({"", "val_macro_f1 (in-sample)", "honest_macro_f1", "val_log_loss"});
  scores.AddRow({"ensemble", FormatFixed(out.in_sample.macro_f1, 4), honest_text(out.honest),
                 FormatFixed(out.in_sample.log_loss, 4)});
  scores.AddRow({"best single (trial " + std::to_string(out.best_single_trial) + ")",
                 FormatFixed(out.best_single.macro_f1, 4), honest_text(out.best_single_honest),
                 FormatFixed(out.best_single.log_loss, 4)});
  std::cout << scores.Render()
            << "(in-sample: chosen and scored on the same validation set; "
               "honest: chosen on one half "
               "of the validation persons, scored on the other, both ways, "
               "averaged; on each half the "
               "pool is re-chosen from "
            << out.honest_pool << " trials by their scores on the selection half alone)\n";
}

// Prints where the submission went and its eval score, and where the ensemble was recorded.
void PrintSubmission(const EnsembleOutcome& out, const std::string& study_name) {
  if (!out.submission.empty()) {
    std::cout << "submission: " << out.submission << " (" << out.submission_rows << " rows)\n";
    if (!out.probs_stem.empty()) {
      std::cout << "blended probabilities: " << out.probs_stem << ".{eval,val}_probs.npy\n";
    }
    if (out.eval) {
      const EnsembleEvalScore& e = *out.eval;
      TextTable table({"", "macro_f1", "accuracy"});
      table.AddRow(
          {"ensemble", FormatFixed(e.ensemble.macro_f1, 4), FormatFixed(e.ensemble.accuracy, 4)});
      table.AddRow({"best single (trial " + std::to_string(out.best_single_trial) + ")",
                    FormatFixed(e.best_single.macro_f1, 4),
                    FormatFixed(e.best_single.accuracy, 4)});
      std::cout << "eval score against " << e.labels << ":\n" << table.Render();
    }
  } else {
    std::cout << "no submission written: the study has no eval data (data.eval)\n";
  }
  const int64_t id = out.record.id;
  std::cout << "recorded as ensemble " << id << " of study " << study_name
            << " (ensweep ensemble --show " << id << ")\n";
}

int BuildAndPrint(const EnsembleOptions& o) {
  auto found = o.locator.Open(/*writable=*/true);
  // Held while the trials' artifacts are read: checkpoint retention waits (core/artifact_lock.h).
  const ArtifactLock reading =
      ArtifactLock::Shared(found.study.spec.value("artifacts", std::string()));
  EnsembleRequest request = o.request;
  request.write_probs = o.format == "probs";
  const EnsembleOutcome out = BuildEnsemble(*found.store, found.study, request);
  PrintMembers(out, found.study.metric);
  PrintScores(out);
  PrintSubmission(out, found.study.name);
  return 0;
}

// Upper bounds of the command line's counts: far above any useful value, low enough that a typo
// cannot start a selection that never ends (rounds and bags multiply the work) or a thread storm.
constexpr long long kMaxCount = 100000;
constexpr long long kMaxBags = 10000;
constexpr long long kMaxThreads = 1024;

// A fraction in (0, 1]; CLI::Range would let "nan" through (no comparison fails).
CLI::Validator Fraction() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && value > 0.0 && value <= 1.0) return "";
        } catch (const std::exception&) {
        }
        return "must be a fraction in (0, 1], got '" + text + "'";
      },
      "FRACTION in (0, 1]");
}

// The options that choose the candidates and the selection (defaults: the study's ensemble:).
void AddSelectionOptions(CLI::App* app, EnsembleRequest& r) {
  app->add_option("-m,--method", r.method, "uniform | greedy | weights (default: ensemble.method)")
      ->check(CLI::IsMember(OptionNames<EnsembleMethod>()));
  app->add_option("-k,--size", r.size,
                  "uniform: members, the best k candidates, 1 to 100000 (ensemble.size)")
      ->check(Between(1, kMaxCount));
  app->add_option("-c,--candidates", r.candidates,
                  "Candidate pool: the best n trials, 1 to 100000 (ensemble.candidates)")
      ->check(Between(1, kMaxCount));
  app->add_option("--rounds", r.rounds,
                  "greedy: picks with replacement, 1 to 100000 (ensemble.rounds, 25)")
      ->check(Between(1, kMaxCount));
  app->add_option("--init", r.init,
                  "greedy: start from the best n candidates, 1 to 100000 (ensemble.init, 1)")
      ->check(Between(1, kMaxCount));
  app->add_option("--bags", r.bags,
                  "greedy: bagged selections, averaged, 1 to 10000 (ensemble.bags, 1: none)")
      ->check(Between(1, kMaxBags));
  app->add_option("--bag-fraction", r.bag_fraction,
                  "greedy: share of candidates per bag, in (0, 1] (0.5)")
      ->check(Fraction());
  app->add_option("--metric", r.metric, "greedy/uniform select on macro_f1 or log_loss")
      ->check(CLI::IsMember(OptionNames<EnsembleMetric>()));
  app->add_option("--top-n", r.top_n, "weights: keep at most n members, 0 to 100000 (0: no limit)")
      ->check(Between(0, kMaxCount));
  app->add_option("--seed", r.seed, "Seed of ties, bags and the honest halves (ensemble.seed)")
      ->check(AtLeast(0));
  app->add_flag("--include-pruned", r.include_pruned, "PRUNED trials join the candidates");
  app->add_option("--one-per", r.one_per,
                  "Only the best candidate per family: trials with equal "
                  "values of these\n"
                  "parameters, e.g. backbone,head (ensemble.one_per)")
      ->type_name("PARAM,...");
  app->add_flag("--one-per-backbone", r.one_per_backbone, "Shorthand for --one-per backbone");
  app->add_option("--tta", r.tta,
                  "hflip: average each trial's predictions with its flipped "
                  "view (used as\n"
                  "stored if the trial itself had tta hflip); none: as stored "
                  "(ensemble.tta)")
      ->check(CLI::IsMember(OptionNames<EnsembleTta>()));
  app->add_flag("--skip-missing", r.skip_missing,
                "Leave out candidates whose prediction files are missing or "
                "corrupt (default: error)");
  app->add_option("--threads", r.threads,
                  "Selection threads, 0 to 1024 (default 0: one per hardware thread)")
      ->check(Between(0, kMaxThreads));
}

// The options for the submission, its scoring and the recorded ensembles.
void AddOutputOptions(CLI::App* app, EnsembleOptions& o) {
  app->add_option("-o,--out", o.request.out,
                  "Submission path (default: <artifacts>/submissions/ensemble-<n>.csv)");
  app->add_option("-f,--format", o.format,
                  "csv: the submission; probs: also the blended probabilities "
                  "beside it (.npy)")
      ->check(CLI::IsMember({"csv", "probs"}));
  app->add_option("--labels", o.request.labels,
                  "Eval labels (ImageID,ans, or path,label for imagefolder and csv data) "
                  "to score the submission (default: eval_labels.csv beside "
                  "the eval folder, if present)");
  CLI::Option* list = app->add_flag("--list", o.list, "List the study's recorded ensembles");
  app->add_option("--show", o.show, "Show one recorded ensemble, by its id (>= 1)")
      ->check(AtLeast(1))
      ->excludes(list);
}

}  // namespace

Command AddEnsembleCommand(CLI::App& root) {
  auto o = std::make_shared<EnsembleOptions>();
  CLI::App* app = root.add_subcommand("ensemble",
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
  AddSelectionOptions(app, o->request);
  AddOutputOptions(app, *o);
  return {app, [o, app] {
            if (o->list || app->count("--show") > 0) {
              const auto found = o->locator.Open(/*writable=*/false);
              return o->list ? ListEnsembles(found) : ShowEnsemble(found, o->show);
            }
            return BuildAndPrint(*o);
          }};
}

Command AddScoreCommand(CLI::App& root) {
  struct Options {
    std::string submission;
    std::string labels;
    std::string format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
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
