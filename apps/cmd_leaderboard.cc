// `ensweep top`, `ensweep show` and `ensweep studies`: read-only views of the store, safe to run
// while a sweep is writing.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <limits>

#include "apps/commands.h"
#include "apps/leaderboard.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "core/error.h"

namespace ensweep {
namespace {

std::string TimeText(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  localtime_r(&t, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

}  // namespace

Command AddTopCommand(CLI::App& root) {
  struct Options {
    StudyLocator locator;
    int k = 10;
    std::string format = "table";
    bool all = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("top", "Leaderboard: the best trials by the study's objective");
  app->footer(
      "Ranks COMPLETE trials; --all also lists pruned, failed, running, queued and stale ones.\n"
      "Safe while a run writes (the store is opened read-only).\n\n"
      "Examples:\n"
      "  ensweep top studies/quickstart.yaml -k 5\n"
      "  ensweep top studies/quickstart.yaml --all -f csv > trials.csv");
  o->locator.AddOptions(app);
  app->add_option("-k,--limit", o->k, "How many trials (0: all; default 10)")
      ->check(Between(0, std::numeric_limits<int>::max()));
  app->add_option("-f,--format", o->format, "table, csv or json (default table)")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  app->add_flag("-a,--all", o->all,
                "Also list trials that are not COMPLETE (running, failed, ...)");
  return {app, [o] {
            LeaderboardOptions options;
            options.format = ParseOutputFormat(o->format);
            options.limit = o->k;
            options.all_states = o->all;
            auto found = o->locator.Open();
            PrintLeaderboard(std::cout, *found.store, found.study, options);
            return 0;
          }};
}

namespace {

struct ShowOptions {
  StudyLocator locator;
  int64_t number = -1;
  std::string format = "table";
};

// The trial number: --trial, or with --db (no study file) a lone number in the study's place.
int64_t TrialNumberOf(ShowOptions& o) {
  const std::string& first = o.locator.study_file;
  if (o.number < 0 && !o.locator.db.empty() && !first.empty() &&
      first.find_first_not_of("0123456789") == std::string::npos) {
    // Past 18 digits stoll could overflow; no store has such a trial.
    if (first.size() > 18) throw UserError("trial: no trial numbered " + first);
    o.number = std::stoll(first);
    o.locator.study_file.clear();
  }
  if (o.number < 0) {
    throw UserError("which trial? e.g. `ensweep show STUDY_FILE 3` (see ensweep show --help)");
  }
  return o.number;
}

// The slots the trial ran on: its own slots_per_trial, else the stored study's
// resources.slots_per_trial (1 for studies stored before slots existed).
int SlotsOf(const StudyRecord& study, const TrialRecord& trial) {
  const auto slots = trial.params.find("slots_per_trial");
  if (slots != trial.params.end() && slots->is_number_integer()) return slots->get<int>();
  const nlohmann::json resources = study.spec.value("resources", nlohmann::json::object());
  const auto stored = resources.find("slots_per_trial");
  return stored != resources.end() && stored->is_number_integer() ? stored->get<int>() : 1;
}

nlohmann::json TrialJson(const StudyRecord& study, const TrialRecord& trial,
                         const std::vector<EpochRecord>& epochs,
                         const std::vector<ArtifactRecord>& artifacts) {
  nlohmann::json j = {{"trial", trial.number},
                      {"state", TrialStateName(trial.state)},
                      {"params", trial.params},
                      {"seed", std::to_string(trial.seed)},
                      {"value", trial.value ? nlohmann::json(*trial.value) : nlohmann::json()},
                      {"metrics", trial.metrics},
                      {"epochs_done", trial.epochs_done},
                      {"worker", trial.worker},
                      {"slots", SlotsOf(study, trial)},
                      {"queued_at", trial.queued_at},
                      {"started_at", trial.started_at},
                      {"finished_at", trial.finished_at},
                      {"error", trial.error},
                      {"retries", trial.retries}};
  j["epochs"] = nlohmann::json::array();
  for (const auto& e : epochs) j["epochs"].push_back({{"epoch", e.epoch}, {"metrics", e.metrics}});
  j["artifacts"] = artifacts;
  return j;
}

// The per-epoch metrics table, one column per metric of the first epoch.
std::string EpochTable(const std::vector<EpochRecord>& epochs) {
  std::vector<std::string> header = {"epoch"};
  for (const auto& [name, value] : epochs.front().metrics) header.push_back(name);
  TextTable table(header);
  for (const auto& e : epochs) {
    std::vector<std::string> row = {std::to_string(e.epoch)};
    for (size_t c = 1; c < header.size(); ++c) {
      auto it = e.metrics.find(header[c]);
      row.push_back(it == e.metrics.end() ? "" : FormatFixed(it->second, 4));
    }
    table.AddRow(row);
  }
  return table.Render();
}

void PrintTrial(const StudyRecord& study, const TrialRecord& trial,
                const std::vector<EpochRecord>& epochs,
                const std::vector<ArtifactRecord>& artifacts) {
  std::cout << "study " << study.name << ", trial " << trial.number << ": "
            << TrialStateName(trial.state);
  if (trial.value) std::cout << ", " << study.metric << " = " << FormatFixed(*trial.value, 4);
  // objective.scope best: the epoch whose model, predictions and value the trial kept.
  if (const auto best = BestEpoch(trial))
    std::cout << " (best epoch " << *best << " of " << trial.epochs_done << ")";
  // A gang trial's worker column lists its members by rank, joined with ", ".
  const int slots = SlotsOf(study, trial);
  std::cout << "\n  seed      " << trial.seed
            << (slots > 1 ? "\n  gang      " + std::to_string(slots) + " slots; workers by rank: "
                          : std::string("\n  worker    "))
            << (trial.worker.empty() ? "-" : trial.worker) << "\n  started   "
            << TimeText(trial.started_at) << "\n  finished  " << TimeText(trial.finished_at);
  if (trial.finished_at > 0 && trial.started_at > 0) {
    std::cout << " (" << FormatSeconds(trial.finished_at - trial.started_at) << ")";
  }
  std::cout << "\n  retries   " << trial.retries << "\n";
  if (!trial.error.empty()) std::cout << "  error     " << trial.error << "\n";
  std::cout << "\nparameters\n";
  for (const auto& item : trial.params.items()) {
    std::cout << "  " << item.key() << " = " << ParamText(item.value()) << "\n";
  }
  if (!epochs.empty()) std::cout << "\nper-epoch metrics\n" << EpochTable(epochs);
  if (!artifacts.empty()) {
    TextTable table({"kind", "bytes", "path"});
    for (const auto& a : artifacts) table.AddRow({a.kind, std::to_string(a.size_bytes), a.path});
    std::cout << "\nartifacts\n" << table.Render();
  }
}

int ShowTrial(ShowOptions& o) {
  const OutputFormat format = ParseOutputFormat(o.format);
  const int64_t number = TrialNumberOf(o);
  auto found = o.locator.Open();
  auto trial = found.store->FindTrial(found.study.id, number);
  if (!trial) {
    throw UserError("study " + found.study.name + " has no trial " + std::to_string(number) +
                    " (it has " + std::to_string(found.study.trial_count) + ")");
  }
  const auto epochs = found.store->Epochs(trial->id);
  const auto artifacts = found.store->Artifacts(trial->id);
  if (format == OutputFormat::kJson) {
    std::cout << TrialJson(found.study, *trial, epochs, artifacts).dump(2) << "\n";
  } else {
    PrintTrial(found.study, *trial, epochs, artifacts);
  }
  return 0;
}

}  // namespace

Command AddShowCommand(CLI::App& root) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* app =
      root.add_subcommand("show", "One trial: parameters, per-epoch metrics, artifacts, error");
  o->locator.AddOptions(app);
  app->add_option("trial,-n,--trial", o->number, "Trial number, >= 0 (required)")
      ->check(AtLeast(0));
  app->footer(
      "Examples:\n"
      "  ensweep show studies/quickstart.yaml 3\n"
      "  ensweep show --db runs/quickstart/ensweep.sqlite --study quickstart 3 -f json");
  app->add_option("-f,--format", o->format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  return {app, [o] { return ShowTrial(*o); }};
}

namespace {

// Bytes of the files under a study's artifact folder (its spec's `artifacts`); 0 when missing.
// Files that vanish or cannot be read meanwhile are skipped.
uint64_t ArtifactBytes(const nlohmann::json& spec) {
  namespace fs = std::filesystem;
  if (!spec.is_object() || !spec.contains("artifacts") || !spec["artifacts"].is_string()) return 0;
  std::error_code error;
  const fs::path root = spec["artifacts"].get<std::string>();
  if (!fs::is_directory(root, error)) return 0;
  uint64_t bytes = 0;
  for (fs::recursive_directory_iterator
           it(root, fs::directory_options::skip_permission_denied, error),
       end;
       !error && it != end; it.increment(error)) {
    std::error_code ignored;
    if (it->is_regular_file(ignored)) {
      const uintmax_t size = it->file_size(ignored);
      if (!ignored) bytes += size;
    }
  }
  return bytes;
}

// 1536 -> "1.5 KiB".
std::string BytesText(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? std::to_string(bytes) + " B" : FormatFixed(value, 1) + " " + units[unit];
}

}  // namespace

Command AddStudiesCommand(CLI::App& root) {
  struct Options {
    std::string study_file;
    std::string db;
    std::string format = "table";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("studies", "The studies in a store, with their progress and best value");
  app->footer(
      "Examples:\n"
      "  ensweep studies studies/quickstart.yaml      # the store that study file names\n"
      "  ensweep studies --db runs/quickstart/ensweep.sqlite -f json");
  app->add_option("study", o->study_file, "A study file whose storage to list");
  app->add_option("--db", o->db, "SQLite store to list");
  app->add_option("-f,--format", o->format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  return {app, [o] {
            const OutputFormat format = ParseOutputFormat(o->format);
            std::string path = o->db;
            if (path.empty() && !o->study_file.empty()) path = LoadStudyFile(o->study_file).storage;
            if (path.empty()) throw UserError("name a study file, or a store with --db FILE");
            auto store = Store::OpenReadOnly(path);
            const auto studies = store->ListStudies();
            if (format == OutputFormat::kJson) {
              nlohmann::json list = nlohmann::json::array();
              for (const auto& s : studies) {
                list.push_back(
                    {{"name", s.name},
                     {"trials", s.trial_count},
                     {"complete", s.complete_count},
                     {"running", s.running_count},
                     {"failed", s.failed_count},
                     {"pruned", s.pruned_count},
                     {"stale", s.stale_count},
                     {"queued", s.queued_count},
                     {"metric", s.metric},
                     {"direction", s.maximize ? "maximize" : "minimize"},
                     {"best", s.best_value ? nlohmann::json(*s.best_value) : nlohmann::json()},
                     {"artifact_bytes", ArtifactBytes(s.spec)},
                     {"created_at", s.created_at}});
              }
              std::cout << list.dump(2) << "\n";
              return 0;
            }
            TextTable table({"study", "trials", "complete", "pruned", "running", "queued", "failed",
                             "stale", "objective", "best", "artifacts", "created"});
            for (const auto& s : studies) {
              table.AddRow({s.name, std::to_string(s.trial_count), std::to_string(s.complete_count),
                            std::to_string(s.pruned_count), std::to_string(s.running_count),
                            std::to_string(s.queued_count), std::to_string(s.failed_count),
                            std::to_string(s.stale_count),
                            s.metric + (s.maximize ? " (max)" : " (min)"),
                            s.best_value ? FormatFixed(*s.best_value, 4) : "-",
                            BytesText(ArtifactBytes(s.spec)), TimeText(s.created_at)});
            }
            std::cout << table.Render();
            return 0;
          }};
}

}  // namespace ensweep
