// `ensweep ensemble` (blend the best trials into a submission) and `ensweep score`.
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "core/error.h"
#include "core/mask_layout.h"
#include "core/metrics.h"
#include "ensemble/blend.h"
#include "ensemble/predictions.h"
#include "ensemble/submission.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

struct Scores {
  double accuracy = 0;
  double macro_f1 = 0;
};

Scores ScoreProbs(const Matrix& probs, const std::vector<int>& labels) {
  const auto confusion = Confusion(labels, ArgmaxRows(probs.values, probs.rows, probs.cols), kNumClasses);
  return {confusion.Accuracy(), confusion.MacroF1()};
}

// Hidden eval labels for local scoring: --labels, else eval_labels.csv beside the eval folder
// (where `ensweep datagen` writes it).
std::string FindLabels(const std::string& given, const std::string& eval_dir) {
  if (!given.empty()) return given;
  if (eval_dir.empty()) return "";
  const fs::path beside = fs::path(eval_dir).parent_path() / "eval_labels.csv";
  return fs::exists(beside) ? beside.string() : "";
}

}  // namespace

Command AddEnsembleCommand(CLI::App& root) {
  struct Options {
    StudyLocator locator;
    int size = 0;
    std::string out;
    std::string labels;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "ensemble",
      "Average the class probabilities of the best trials, record the ensemble in the store and\n"
      "write a submission in the competition format (eval/info.csv with ans filled).");
  o->locator.AddOptions(app);
  app->add_option("-k,--size", o->size, "Members: the top k COMPLETE trials (default: the study's ensemble.size)");
  app->add_option("-o,--out", o->out, "Submission path (default: <artifacts>/submissions/ensemble-<n>.csv)");
  app->add_option("--labels", o->labels,
                  "Eval labels (ImageID,ans) to score the submission (default: eval_labels.csv beside "
                  "the eval folder, if present)");
  return {app, [o] {
            auto found = o->locator.Open(/*writable=*/true);
            const StudySpec spec = StudyFromJson(found.study.spec);
            const int k = o->size > 0 ? o->size : spec.ensemble.size;
            const auto top = found.store->TopTrials(found.study.id, found.study.maximize, k);
            if (top.empty()) throw UserError("study " + spec.name + " has no COMPLETE trial to ensemble yet");
            std::vector<TrialPredictions> members;
            for (const auto& trial : top) members.push_back(LoadTrialPredictions(*found.store, trial));
            CheckSameValidationRows(members);

            std::vector<const Matrix*> val, eval;
            std::vector<double> weights(members.size(), 1.0 / static_cast<double>(members.size()));
            for (const auto& m : members) {
              val.push_back(&m.val_probs);
              if (m.eval_probs) eval.push_back(&*m.eval_probs);
            }
            const Matrix blended_val = WeightedAverage(val, weights);
            const Scores ensemble_val = ScoreProbs(blended_val, members[0].val_labels);

            const std::string labels = FindLabels(o->labels, spec.data.eval);
            TextTable table({"trial", "weight", "val_macro_f1", "val_accuracy"});
            for (size_t i = 0; i < members.size(); ++i) {
              const Scores s = ScoreProbs(members[i].val_probs, members[i].val_labels);
              table.AddRow({std::to_string(members[i].number), FormatFixed(weights[i], 3),
                            FormatFixed(s.macro_f1, 4), FormatFixed(s.accuracy, 4)});
            }
            table.AddRow({"ensemble", "", FormatFixed(ensemble_val.macro_f1, 4), FormatFixed(ensemble_val.accuracy, 4)});
            std::cout << "ensemble of " << members.size() << " trials: uniform average of the top "
                      << members.size() << " by " << found.study.metric << "\n"
                      << table.Render();
            std::cout << "(validation scores are in-sample: the members were chosen on this validation set)\n";

            EnsembleRecord record;
            record.study_id = found.study.id;
            record.method = "uniform";
            record.settings = {{"size", k}};
            for (const auto& m : members) record.member_numbers.push_back(m.number);
            record.weights = weights;
            record.metrics = {{"val_macro_f1", ensemble_val.macro_f1}, {"val_accuracy", ensemble_val.accuracy}};

            if (eval.size() == members.size() && !spec.data.eval.empty()) {
              const Matrix blended_eval = WeightedAverage(eval, weights);
              std::string out = o->out;
              if (out.empty()) {
                const size_t n = found.store->Ensembles(found.study.id).size() + 1;
                out = (fs::path(spec.artifacts) / "submissions" / ("ensemble-" + std::to_string(n) + ".csv")).string();
              }
              WriteSubmission((fs::path(spec.data.eval) / "info.csv").string(), blended_eval, out);
              record.submission_path = fs::absolute(out).string();
              std::cout << "submission: " << record.submission_path << " (" << blended_eval.rows << " rows)\n";
              if (!labels.empty()) {
                const SubmissionScore score = ScoreSubmission(out, labels);
                record.metrics["eval_macro_f1"] = score.macro_f1;
                record.metrics["eval_accuracy"] = score.accuracy;
                const fs::path best_dir = fs::path(out).parent_path() / "best-single.csv";
                WriteSubmission((fs::path(spec.data.eval) / "info.csv").string(), *members[0].eval_probs,
                                best_dir.string());
                const SubmissionScore single = ScoreSubmission(best_dir.string(), labels);
                fs::remove(best_dir);
                std::cout << "eval score against " << labels << ":\n"
                          << "  ensemble           macro F1 " << FormatFixed(score.macro_f1, 4) << "  accuracy "
                          << FormatFixed(score.accuracy, 4) << "\n"
                          << "  best single (" << members[0].number << ")  macro F1 "
                          << FormatFixed(single.macro_f1, 4) << "  accuracy " << FormatFixed(single.accuracy, 4)
                          << "\n";
              }
            } else {
              std::cout << "no submission written: the study has no eval data (data.eval), or a member "
                           "has no eval predictions\n";
            }
            const int64_t id = found.store->AddEnsemble(record);
            std::cout << "recorded as ensemble " << id << " of study " << spec.name << "\n";
            return 0;
          }};
}

Command AddScoreCommand(CLI::App& root) {
  struct Options {
    std::string submission;
    std::string labels;
    std::string format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("score", "Score a submission against a labels file (ImageID,ans)");
  app->add_option("submission", o->submission, "Submission CSV (ImageID,ans)")->required();
  app->add_option("--labels", o->labels, "Labels CSV (ImageID,ans), e.g. eval_labels.csv from datagen")->required();
  app->add_option("-f,--format", o->format, "table or json (default table)");
  return {app, [o] {
            const SubmissionScore score = ScoreSubmission(o->submission, o->labels);
            if (o->format == "json") {
              std::cout << nlohmann::json{{"rows", score.rows}, {"accuracy", score.accuracy},
                                          {"macro_f1", score.macro_f1}}.dump(2)
                        << "\n";
            } else {
              std::cout << "rows      " << score.rows << "\naccuracy  " << FormatFixed(score.accuracy, 4)
                        << "\nmacro F1  " << FormatFixed(score.macro_f1, 4) << "\n";
            }
            return 0;
          }};
}

}  // namespace ensweep
