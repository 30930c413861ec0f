#include "apps/audit_leak.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "apps/table.h"
#include "core/error.h"
#include "core/study.h"
#include "ensemble/pipeline.h"
#include "ensemble/predictions.h"
#include "ensemble/submission.h"
#include "orchestrator/local_workers.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

const char* const kSplits[] = {"image", "person"};

// What one of the two trainings scored.
struct LeakScore {
  std::string split;
  double val_macro_f1 = 0, val_accuracy = 0;
  int64_t val_images = 0;
  std::optional<SubmissionScore> eval;
};

// The one-trial study that trains `best`'s parameters with validation split `split`: the
// original's data (split.by changed, hold-out with its val_fraction and seed), objective and
// resources; a random sampler with the original's seed, so both trainings' trial 0 gets the same
// trial seed; no pruner, no enqueue, no checkpoints kept.
Json LeakStudy(const StudyRecord& study, const TrialRecord& best, const std::string& split,
               const fs::path& folder) {
  Json j = study.spec;
  j["study"] = study.name.substr(0, 100) + "-leak-" + split;
  j["storage"] = (folder / "ensweep.sqlite").string();
  j["artifacts"] = (folder / "artifacts").string();
  j["data"]["split"]["by"] = split;
  j["data"]["split"]["folds"] = 1;
  const Json epochs = j["budget"]["epochs"];
  j["budget"] = {{"trials", 1}, {"epochs", epochs}};
  j["sampler"] = {{"type", "random"}, {"seed", study.spec["sampler"].value("seed", 0)}};
  j["pruner"] = {{"type", "none"}};
  j["checkpoints"] = {{"keep", "none"}};
  j.erase("enqueue");
  j.erase("ensemble");
  j["trainer"] = {{"type", study.spec["trainer"].value("type", "torch")}};
  Json space = Json::object();
  for (const auto& [name, value] : best.params.items()) space[name] = {{"value", value}};
  j["space"] = space;
  return j;
}

// Writes `study` to folder/study.json; a folder holding another study (another best trial since
// the last --leak, or another original) is emptied first, so that `run` resumes only the same one.
fs::path WriteLeakStudy(const Json& study, const fs::path& folder) {
  const fs::path file = folder / "study.json";
  const std::string text = study.dump(2) + "\n";
  std::ifstream existing(file);
  std::stringstream old;
  old << existing.rdbuf();
  if (!existing || old.str() != text) {
    fs::remove_all(folder);
    fs::create_directories(folder);
    std::ofstream out(file);
    out << text;
    if (!out.flush()) throw UserError("cannot write " + file.string());
  }
  return file;
}

volatile sig_atomic_t g_leak_signal = 0;
void NoteSignal(int signal) { g_leak_signal = signal; }

// Runs `ensweep run FILE --workers 1 [--threads N]` in this process group (a Ctrl-C reaches it and
// it stops cleanly; this process only waits), its standard output sent to standard error so that
// ours carries the comparison alone. Returns its exit status.
int RunChild(const fs::path& file, int threads) {
  std::vector<std::string> args = {"run", file.string(), "--workers", "1"};
  if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
  SpawnOptions options;
  options.dups.emplace_back(STDERR_FILENO, STDOUT_FILENO);
  struct sigaction note = {};
  struct sigaction old_int = {}, old_term = {}, old_hup = {};
  note.sa_handler = NoteSignal;  // handled, not ignored: the child's signals reset on exec
  sigemptyset(&note.sa_mask);
  sigaction(SIGINT, &note, &old_int);
  sigaction(SIGTERM, &note, &old_term);
  sigaction(SIGHUP, &note, &old_hup);
  pid_t pid = -1;
  std::string failure;
  try {
    pid = SpawnProcess(SelfExecutable(), args, options);
  } catch (const std::runtime_error& e) {
    failure = e.what();
  }
  int status = 0;
  if (pid > 0) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      // A signal for a terminal or a scheduler's whole job reached the child too; if only this
      // process got it, pass it on.
      if (g_leak_signal != 0) kill(pid, g_leak_signal);
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  if (pid <= 0) throw UserError(failure);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string EvalLabels(const DataSpec& data, const std::string& given) {
  if (!given.empty() && !fs::exists(given)) throw UserError("--labels: no such file: " + given);
  return FindEvalLabels(given, data.eval);
}

LeakScore ScoreLeakTrial(const fs::path& file, const std::string& split,
                         const std::string& labels) {
  const StudySpec spec = LoadStudyFile(file.string());
  std::unique_ptr<Store> store = Store::OpenReadOnly(spec.storage);
  const std::optional<StudyRecord> study = store->FindStudy(spec.name);
  const std::optional<TrialRecord> trial =
      study ? store->FindTrial(study->id, 0) : std::optional<TrialRecord>();
  if (!trial || trial->state != TrialState::kComplete) {
    throw UserError("the " + split + "-split training in " + file.parent_path().string() +
                    " did not complete" +
                    (trial && !trial->error.empty() ? ": " + trial->error : ""));
  }
  // The trial's final metrics are those of the epoch whose predictions are stored.
  const TrialPredictions p = LoadTrialPredictions(*store, *trial);
  LeakScore score;
  score.split = split;
  score.val_macro_f1 = trial->metrics.value("val_macro_f1", 0.0);
  score.val_accuracy = trial->metrics.value("val_accuracy", 0.0);
  score.val_images = p.val_probs.rows;
  if (!labels.empty() && p.eval_probs) {
    score.eval = ScorePredictions(SubmissionTargetFor(spec.data), *p.eval_probs, labels);
  }
  return score;
}

// DIR/leak.json: both trainings' scores, for scripts.
void WriteLeakJson(const fs::path& out, const std::vector<LeakScore>& scores,
                   const TrialRecord& best) {
  Json j = {{"trial", best.number}, {"splits", Json::array()}};
  for (const LeakScore& s : scores) {
    Json row = {{"split", s.split},
                {"val_macro_f1", s.val_macro_f1},
                {"val_accuracy", s.val_accuracy},
                {"val_images", s.val_images}};
    if (s.eval) {
      row["eval_macro_f1"] = s.eval->macro_f1;
      row["eval_accuracy"] = s.eval->accuracy;
    }
    j["splits"].push_back(row);
  }
  std::ofstream file(out / "leak.json");
  file << j.dump(2) << "\n";
  if (!file.flush()) throw UserError("cannot write " + (out / "leak.json").string());
}

void PrintComparison(const std::vector<LeakScore>& scores, const TrialRecord& best,
                     const std::string& labels) {
  const bool eval = scores[0].eval && scores[1].eval;
  std::vector<std::string> header = {"split", "val_macro_f1", "val_accuracy", "val_images"};
  if (eval) header.insert(header.end(), {"eval_macro_f1", "eval_accuracy", "overstated_by"});
  TextTable table(header);
  for (const LeakScore& s : scores) {
    std::vector<std::string> row = {"by " + s.split, FormatFixed(s.val_macro_f1, 4),
                                    FormatFixed(s.val_accuracy, 4), std::to_string(s.val_images)};
    if (eval) {
      row.insert(row.end(), {FormatFixed(s.eval->macro_f1, 4), FormatFixed(s.eval->accuracy, 4),
                             FormatFixed(s.val_macro_f1 - s.eval->macro_f1, 4)});
    }
    table.AddRow(row);
  }
  std::cout << "trial " << best.number << "'s recipe trained twice, same data and seed:\n"
            << table.Render();
  if (eval) {
    std::cout << "overstated_by: validation macro F1 minus eval macro F1 (eval labels: " << labels
              << ").\nThe image split overstates by "
              << FormatFixed((scores[0].val_macro_f1 - scores[0].eval->macro_f1) -
                                 (scores[1].val_macro_f1 - scores[1].eval->macro_f1),
                             4)
              << " more than the person split.\n";
  } else {
    std::cout << "No eval labels (eval_labels.csv beside data.eval, or --labels FILE): the image "
                 "split's validation score exceeds the person split's by "
              << FormatFixed(scores[0].val_macro_f1 - scores[1].val_macro_f1, 4) << ".\n";
  }
}

}  // namespace

int RunLeakAudit(const StudyLocator& locator, const LeakOptions& options) {
  const StudyLocator::Found found = locator.Open(/*writable=*/false);
  const StudySpec spec = StudyFromJson(found.study.spec);
  const std::string who = "study '" + found.study.name + "'";
  if (spec.trainer.type != TrainerType::kTorch)
    throw UserError(who + " trains no images (trainer.type)");
  if (spec.data.format == DataFormat::kImageFolder) {
    throw UserError(who +
                    " has imagefolder data, whose images belong to no person or group: an "
                    "image split and a group split are the same there");
  }
  const std::vector<TrialRecord> top =
      found.store->TopTrials(found.study.id, found.study.maximize, 1);
  if (top.empty()) throw UserError(who + " has no complete trials yet; run it first (ensweep run)");
  const std::string labels = EvalLabels(spec.data, options.labels);
  const fs::path out =
      options.out.empty() ? fs::path(spec.artifacts) / "audit-leak" : fs::path(options.out);
  std::vector<LeakScore> scores;
  for (const std::string split : kSplits) {
    const fs::path folder = out / ("by-" + split);
    const fs::path file = WriteLeakStudy(LeakStudy(found.study, top[0], split, folder), folder);
    std::cerr << "audit --leak: trial " << top[0].number << "'s recipe with "
              << (split == "image" ? "an " : "a ") << split << "-level split (" << file.string()
              << ")" << std::endl;
    const int status = RunChild(file, options.threads);
    if (status == 129 || status == 130) {
      std::cerr << "audit --leak: interrupted; run it again to resume" << std::endl;
      return status;
    }
    if (status != 0) throw UserError("the " + split + "-split training failed (above)");
    scores.push_back(ScoreLeakTrial(file, split, labels));
  }
  WriteLeakJson(out, scores, top[0]);
  PrintComparison(scores, top[0], labels);
  std::cout << "scores: " << (out / "leak.json").string() << "\n";
  return 0;
}

}  // namespace ensweep
