// `ensweep audit`: which training labels look wrong, from the out-of-fold predictions of a study's
// best trials (audit/label_audit.h); suspects.csv and a self-contained index.html.
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "audit/audit_report.h"
#include "audit/label_audit.h"
#include "core/error.h"
#include "core/listing.h"
#include "core/text.h"
#include "ensemble/candidate_loading.h"

namespace ensweep {
namespace {

struct AuditOptions {
  StudyLocator locator;
  std::string out;
  int trials = 3;
  std::string method = "cl";
  bool holdout = false;
};

// The mean of the loaded trials' validation probabilities, one AuditImage per validation row.
std::vector<AuditImage> AverageOutOfFold(const std::vector<TrialPredictions>& members) {
  const TrialPredictions& first = members.front();
  std::vector<AuditImage> images(static_cast<size_t>(first.val_probs.rows));
  const int64_t cols = first.val_probs.cols;
  for (int64_t r = 0; r < first.val_probs.rows; ++r) {
    AuditImage& image = images[static_cast<size_t>(r)];
    image.path = first.val_paths[static_cast<size_t>(r)];
    image.person = first.val_persons[static_cast<size_t>(r)];
    image.label = first.val_labels[static_cast<size_t>(r)];
    image.probs.assign(static_cast<size_t>(cols), 0.0);
    for (const TrialPredictions& m : members) {
      for (int64_t c = 0; c < cols; ++c) {
        image.probs[static_cast<size_t>(c)] += m.val_probs.at(r, c) / members.size();
      }
    }
  }
  return images;
}

std::string TrialList(const std::vector<TrialRecord>& trials) {
  std::string text;
  for (const TrialRecord& t : trials) {
    text += (text.empty() ? "#" : ", #") + std::to_string(t.number) + " (" +
            FormatFixed(t.value.value_or(0.0), 4) + ")";
  }
  return text;
}

int RunLabelAudit(const AuditOptions& o) {
  if (o.out.empty()) throw UserError("audit: name the output folder with -o DIR");
  const StudyLocator::Found found = o.locator.Open(/*writable=*/false);
  const StudySpec spec = StudyFromJson(found.study.spec);
  const std::string who = "study '" + found.study.name + "'";
  const bool k_fold = spec.data.split.folds >= 2;
  if (!k_fold && !o.holdout) {
    throw UserError(who + " has a hold-out split (data.split.folds " +
                    std::to_string(spec.data.split.folds) +
                    "): only its validation images have out-of-sample predictions. Set "
                    "data.split.folds >= 2 so that every training image is predicted by a fold "
                    "that did not train on it, or pass --holdout to audit the validation images "
                    "only");
  }
  const std::vector<TrialRecord> top =
      found.store->TopTrials(found.study.id, found.study.maximize, o.trials);
  if (top.empty()) {
    throw UserError(who + " has no complete trials yet; run it first (ensweep run)");
  }
  std::cerr << "audit: averaging the out-of-fold predictions of "
            << CountOf(static_cast<long long>(top.size()), "trial") << ": " << TrialList(top)
            << std::endl;
  const LoadedCandidates loaded = LoadCandidates(*found.store, top, /*need_eval=*/false,
                                                 /*skip_missing=*/false);
  const std::vector<AuditImage> images = AverageOutOfFold(loaded.predictions);
  const std::vector<std::string> class_names = ListClassNames(spec.data);
  const bool mask = spec.data.format == DataFormat::kMask;
  std::cerr << "audit: " << CountOf(static_cast<long long>(images.size()), "image")
            << (k_fold ? "" : " (validation only)") << ", " << OptionName(spec.data.format)
            << " data" << std::endl;
  const AuditResult result = AuditLabels(
      images, spec.data, class_names, mask,
      o.method == "cl" ? AuditMethod::kConfidentLearning : AuditMethod::kGivenProbability);
  AuditPageInfo info;
  info.title = found.study.name;
  info.notes.push_back("Out-of-" + std::string(k_fold ? "fold" : "sample (validation only)") +
                       " predictions of " + CountOf(static_cast<long long>(top.size()), "trial") +
                       ", averaged: " + TrialList(top) + ".");
  info.notes.push_back(o.method == "cl"
                           ? "Confident learning: flagged where the most probable value above its "
                             "class threshold is not the given one; score = (1 - normalised "
                             "margin) / 2."
                           : "Baseline: every example, score = 1 - p(given value).");
  for (const FieldSummary& f : result.fields) {
    std::cerr << "audit: " << f.field << ": " << f.flagged << " of "
              << CountOf(f.examples, f.person_level ? "person" : "image") << " flagged"
              << std::endl;
  }
  WriteAuditReport(o.out, result, info);
  const std::filesystem::path dir(o.out);
  std::cout << CountOf(static_cast<long long>(result.suspects.size()), "suspect") << " in "
            << (dir / "suspects.csv").string() << "\npage: " << (dir / "index.html").string()
            << "\n";
  return 0;
}

}  // namespace

Command AddAuditCommand(CLI::App& root) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* app = root.add_subcommand(
      "audit",
      "Find training labels that look wrong from the out-of-fold predictions of a k-fold study's\n"
      "best trials (confident learning, per field: mask per image, gender and age per person).\n"
      "Writes DIR/suspects.csv (level,person,image,field,given,suggested,score; the format that\n"
      "data.exclude and data.relabel read) and DIR/index.html (thumbnails of every suspect).");
  o->locator.AddOptions(app);
  app->add_option("-o,--out", o->out, "Output folder for suspects.csv and index.html");
  app->add_option("-t,--trials", o->trials,
                  "Average the out-of-fold predictions of the best K complete trials (3)")
      ->check(Between(1, 1000));
  app->add_option("--method", o->method,
                  "cl: confident learning (default); given-prob: the baseline, every example "
                  "ranked by its given value's probability, lowest first")
      ->check(CLI::IsMember({"cl", "given-prob"}));
  app->add_flag("--holdout", o->holdout,
                "With a hold-out split (folds 1): audit the validation images only");
  return {app, [o] { return RunLabelAudit(*o); }};
}

}  // namespace ensweep
