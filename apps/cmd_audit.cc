// `ensweep audit`: which training labels look wrong, from the out-of-fold predictions of a study's
// best trials (audit/label_audit.h); suspects.csv and a self-contained index.html.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "apps/audit_leak.h"
#include "apps/commands.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "audit/audit_report.h"
#include "audit/data_profile.h"
#include "audit/label_audit.h"
#include "core/csv.h"
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
  std::vector<std::string> fields;
  bool holdout = false;
  bool data = false;
  int near_bits = 2;
  bool leak = false;
  LeakOptions leak_options;
};

// The eval images' classes as the newest recorded ensemble predicted them (its submission), and
// where they came from; nullopt with the reason when there is none.
std::optional<std::vector<int>> NewestEnsembleLabels(const StudyLocator& locator,
                                                     const std::vector<EvalImage>& eval,
                                                     const std::vector<std::string>& class_names,
                                                     bool mask, std::string& source) {
  source = "no ensemble recorded yet (ensweep ensemble), so no eval counts";
  StudyLocator::Found found;
  try {
    found = locator.Open(/*writable=*/false);
  } catch (const UserError&) {
    return std::nullopt;  // no store yet
  }
  const auto ensembles = found.store->Ensembles(found.study.id);
  const EnsembleRecord* newest = nullptr;
  for (const auto& e : ensembles) {
    if (!e.submission_path.empty() && (newest == nullptr || e.created_at >= newest->created_at))
      newest = &e;
  }
  if (newest == nullptr || !std::filesystem::exists(newest->submission_path)) return std::nullopt;
  const CsvTable table = ReadCsv(newest->submission_path);
  const size_t id_col = table.Column(mask ? "ImageID" : "path");
  const size_t label_col = table.Column(mask ? "ans" : "label");
  std::map<std::string, int> by_id;
  for (const auto& row : table.rows) {
    const auto it = std::find(class_names.begin(), class_names.end(), row[label_col]);
    if (it != class_names.end()) by_id[row[id_col]] = static_cast<int>(it - class_names.begin());
  }
  std::vector<int> labels;
  for (const EvalImage& image : eval) {
    const auto it = by_id.find(image.image_id);
    if (it == by_id.end()) return std::nullopt;
    labels.push_back(it->second);
  }
  source = "predictions of ensemble " + std::to_string(newest->id) + " (" +
           newest->submission_path + ")";
  return labels;
}

int RunDataProfile(const AuditOptions& o) {
  if (o.out.empty()) throw UserError("audit --data: name the output folder with -o DIR");
  if (o.locator.study_file.empty()) throw UserError("audit --data: name the study file");
  const StudySpec spec = LoadStudyFile(o.locator.study_file);
  const DataListing listing = ListData(spec.data);
  const bool mask = spec.data.format == DataFormat::kMask;
  std::string source;
  const auto eval_labels =
      NewestEnsembleLabels(o.locator, listing.eval, listing.class_names, mask, source);
  std::cerr << "audit: profiling "
            << CountOf(static_cast<long long>(listing.train.size()), "training image") << " and "
            << CountOf(static_cast<long long>(listing.eval.size()), "eval image") << std::endl;
  DataProfile profile = ProfileData(listing.train, listing.eval, listing.class_names, mask,
                                    eval_labels, o.near_bits, [](size_t done, size_t total) {
                                      std::cerr << "audit: read " << done << "/" << total
                                                << " images" << std::endl;
                                    });
  profile.eval_counts_source = listing.eval.empty() ? "the study has no eval data" : source;
  WriteDataProfile(o.out, profile, spec.name);
  int unreadable = 0, exact = 0, near = 0;
  for (const ImageFacts& f : profile.images) unreadable += f.readable ? 0 : 1;
  for (const DuplicatePair& d : profile.duplicates) (d.exact ? exact : near) += 1;
  std::cout << profile.images.size() << " images: " << unreadable << " unreadable, " << exact
            << " exact and " << near << " near duplicate pairs\npage: "
            << (std::filesystem::path(o.out) / "data_profile.html").string() << "\n";
  return 0;
}

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
  AuditResult result;
  try {
    result = AuditLabels(
        images, spec.data, class_names, mask,
        o.method == "cl" ? AuditMethod::kConfidentLearning : AuditMethod::kGivenProbability,
        o.fields);
  } catch (const std::invalid_argument& e) {
    throw UserError(std::string("audit --fields: ") + e.what());
  }
  AuditPageInfo info;
  info.title = found.study.name;
  info.notes.push_back("Out-of-" + std::string(k_fold ? "fold" : "sample (validation only)") +
                       " predictions of " + CountOf(static_cast<long long>(top.size()), "trial") +
                       ", averaged: " + TrialList(top) + ".");
  info.notes.push_back(o.method == "cl"
                           ? "Confident learning: flagged where the most probable value above its "
                             "class threshold is not the given one; score = 1 - p(given "
                             "value)."
                           : "Baseline: every example, score = 1 - p(given value).");
  for (const FieldSummary& f : result.fields) {
    std::cerr << "audit: " << f.field << ": " << f.flagged << " of "
              << CountOf(f.examples, f.person_level ? "person" : "image")
              << " flagged; the models' accuracy on the given values " << FormatFixed(f.accuracy, 3)
              << std::endl;
    if (o.method == "cl" && f.flagged > 0 && f.accuracy < 0.8) {
      std::cerr << "audit: " << f.field << ": the models get " << FormatFixed(1.0 - f.accuracy, 3)
                << " of its given values wrong, so most of these flags may be their own mistakes;"
                   " judge them on the page before excluding them"
                << std::endl;
    }
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
      "data.exclude and data.relabel read) and DIR/index.html (thumbnails of every suspect).\n"
      "--data profiles the training and eval sets instead; --leak measures how much an\n"
      "image-level validation split overstates against a person-level one.");
  o->locator.AddOptions(app);
  app->add_option("-o,--out", o->out, "Output folder for suspects.csv and index.html");
  app->add_option("-t,--trials", o->trials,
                  "Average the out-of-fold predictions of the best K complete trials (3)")
      ->check(Between(1, 1000));
  app->add_option("--method", o->method,
                  "cl: confident learning (default); given-prob: the baseline, every example "
                  "ranked by its given value's probability, lowest first")
      ->check(CLI::IsMember({"cl", "given-prob"}));
  app->add_option("--fields", o->fields,
                  "Audit only these fields (mask data: mask, gender, age; other data: label), "
                  "e.g. --fields gender to write a suspects.csv of the fields to act on")
      ->delimiter(',')
      ->allow_extra_args(false);
  app->add_flag("--holdout", o->holdout,
                "With a hold-out split (folds 1): audit the validation images only");
  app->add_flag("--data", o->data,
                "Profile the training and eval data instead, without training: counts per "
                "class and field, sizes, formats, exact and near duplicates, unreadable files "
                "(DIR/data_profile.html and CSV files)");
  app->add_option("--near-bits", o->near_bits,
                  "--data: near duplicates differ in at most this many of 64 dHash bits (2)")
      ->check(Between(0, 32));
  app->add_flag("--leak", o->leak,
                "Train the best trial's recipe twice, with an image-level and a person-level "
                "validation split (same data, same seed), and print both validation scores "
                "beside the eval score: how much an image split overstates. The two one-trial "
                "studies go under -o DIR (default <artifacts>/audit-leak); a rerun resumes them");
  app->add_option("--labels", o->leak_options.labels,
                  "--leak: eval labels to score against (default eval_labels.csv beside "
                  "data.eval, as ensweep datagen writes)");
  app->add_option("--threads", o->leak_options.threads,
                  "--leak: LibTorch threads of the training worker (default: every core)")
      ->check(Between(1, 1024));
  return {app, [o] {
            if (o->data + o->leak + (o->method != "cl" || o->holdout || !o->fields.empty()) > 1) {
              throw UserError(
                  "audit: --data, --leak and a label audit (--method, --holdout, --fields) "
                  "are different audits; choose one");
            }
            if (o->leak) {
              o->leak_options.out = o->out;
              return RunLeakAudit(o->locator, o->leak_options);
            }
            return o->data ? RunDataProfile(*o) : RunLabelAudit(*o);
          }};
}

}  // namespace ensweep
