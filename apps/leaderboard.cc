#include "apps/leaderboard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "apps/table.h"
#include "core/csv.h"
#include "core/error.h"

namespace ensweep {
namespace {

double Duration(const TrialRecord& t) {
  return t.finished_at > 0 && t.started_at > 0 ? t.finished_at - t.started_at : 0.0;
}

}  // namespace

OutputFormat ParseOutputFormat(const std::string& text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "csv") return OutputFormat::kCsv;
  if (text == "json") return OutputFormat::kJson;
  throw UserError("--format: expected table, csv or json, got '" + text + "'");
}

std::string ParamText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.4g", value.get<double>());
    return text;
  }
  return value.dump();
}

std::string CsvText(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {  // JSON would say null
    const double v = value.get<double>();
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  }
  return value.dump();
}

std::string TrialStateCounts(const StudyRecord& study) {
  std::string text = std::to_string(study.complete_count) + " complete";
  const std::pair<int64_t, const char*> others[] = {{study.pruned_count, "pruned"},
                                                    {study.running_count, "running"},
                                                    {study.queued_count, "queued"},
                                                    {study.failed_count, "failed"},
                                                    {study.stale_count, "stale"}};
  for (const auto& [count, state] : others) {
    if (count > 0) text += ", " + std::to_string(count) + " " + state;
  }
  return text;
}

std::optional<int64_t> BestEpoch(const TrialRecord& trial) {
  if (!trial.metrics.is_object()) return std::nullopt;
  const auto it = trial.metrics.find("best_epoch");
  if (it == trial.metrics.end() || !it->is_number()) return std::nullopt;
  return it->get<int64_t>();
}

std::string ShortError(const std::string& error) {
  constexpr size_t kErrorWidth = 60;
  std::string line = error.substr(0, error.find('\n'));
  if (line.size() > kErrorWidth || line.size() < error.size()) {
    size_t cut = std::min(line.size(), kErrorWidth - 3);
    // Back to the start of a character: the byte after the cut is no UTF-8 continuation byte.
    while (cut > 0 && cut < line.size() && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80)
      --cut;
    line = line.substr(0, cut) + "...";
  }
  return line;
}

namespace {

bool Ranked(const TrialRecord& t) {
  return t.state == TrialState::kComplete && t.value.has_value();
}

void WriteJson(std::ostream& out, const StudyRecord& study, const std::vector<TrialRecord>& rows) {
  nlohmann::json list = nlohmann::json::array();
  int rank = 0;
  for (const auto& t : rows) {
    list.push_back({{"rank", Ranked(t) ? nlohmann::json(++rank) : nlohmann::json(nullptr)},
                    {"trial", t.number},
                    {"state", TrialStateName(t.state)},
                    {"value", t.value ? nlohmann::json(*t.value) : nlohmann::json(nullptr)},
                    {"metric", study.metric},
                    {"epochs", t.epochs_done},
                    {"duration_s", Duration(t)},
                    {"worker", t.worker},
                    {"params", t.params},
                    {"metrics", t.metrics},
                    {"error", t.error}});
  }
  out << list.dump(2) << "\n";
}

void WriteCsv(std::ostream& out, const StudyRecord& study, const std::vector<TrialRecord>& rows,
              const std::set<std::string>& param_names) {
  std::vector<std::string> header = {"rank",   "trial",      "state", study.metric,
                                     "epochs", "duration_s", "worker"};
  header.insert(header.end(), param_names.begin(), param_names.end());
  // Every final metric of these trials, the objective's own included (for a pruned trial it can
  // differ from the value, which is its last report).
  std::set<std::string> metric_names;
  for (const auto& t : rows)
    for (const auto& item : t.metrics.items()) metric_names.insert(item.key());
  std::set<std::string> taken(header.begin(), header.end());
  taken.insert("error");
  for (const auto& name : metric_names)
    header.push_back(taken.count(name) ? "metric." + name : name);
  header.push_back("error");
  WriteCsvRow(out, header);
  int rank = 0;
  for (const auto& t : rows) {
    // Full precision: a CSV is read by programs (the table rounds for the eye).
    std::vector<std::string> row = {Ranked(t) ? std::to_string(++rank) : "",
                                    std::to_string(t.number),
                                    TrialStateName(t.state),
                                    t.value ? CsvText(*t.value) : "",
                                    std::to_string(t.epochs_done),
                                    FormatFixed(Duration(t), 1),
                                    t.worker};
    for (const auto& name : param_names) {
      const auto it = t.params.find(name);
      row.push_back(it == t.params.end() ? "" : CsvText(*it));
    }
    for (const auto& name : metric_names) {
      const auto it = t.metrics.find(name);
      row.push_back(it == t.metrics.end() ? "" : CsvText(*it));
    }
    row.push_back(t.error);
    WriteCsvRow(out, row);
  }
}

void WriteTable(std::ostream& out, const StudyRecord& study, const std::vector<TrialRecord>& rows,
                const std::set<std::string>& param_names, bool all_states) {
  out << "study " << study.name << ": " << CountOf(study.trial_count, "trial") << " ("
      << TrialStateCounts(study) << "); objective " << study.metric << " ("
      << (study.maximize ? "maximize" : "minimize") << ")\n";
  if (rows.empty()) {
    out << "no completed trials yet";
    if (study.trial_count > 0 && !all_states) out << " (--all lists every trial)";
    out << "\n";
    return;
  }
  std::vector<std::string> header = {"rank", "trial", "state", study.metric, "epochs"};
  // objective.scope best: the epoch each trial's value and model are from.
  const bool best_epochs = std::any_of(
      rows.begin(), rows.end(), [](const TrialRecord& t) { return BestEpoch(t).has_value(); });
  if (best_epochs) header.push_back("best_epoch");
  header.push_back("time_s");
  header.insert(header.end(), param_names.begin(), param_names.end());
  if (all_states) header.push_back("error");
  TextTable table(header);
  int rank = 0;
  for (const auto& t : rows) {
    std::vector<std::string> row = {
        Ranked(t) ? std::to_string(++rank) : "-", std::to_string(t.number), TrialStateName(t.state),
        t.value ? FormatFixed(*t.value, 4) : "", std::to_string(t.epochs_done)};
    if (best_epochs) {
      const auto best = BestEpoch(t);
      row.push_back(best ? std::to_string(*best) : "");
    }
    row.push_back(FormatFixed(Duration(t), 1));
    for (const auto& name : param_names) {
      row.push_back(t.params.contains(name) ? ParamText(t.params[name]) : "");
    }
    if (all_states) row.push_back(ShortError(t.error));
    table.AddRow(std::move(row));
  }
  out << table.Render();
}

}  // namespace

void PrintLeaderboard(std::ostream& out, const Store& store, const StudyRecord& study,
                      const LeaderboardOptions& options) {
  std::vector<TrialRecord> rows = store.TopTrials(study.id, study.maximize, options.limit);
  if (options.all_states) {
    for (auto& t : store.Trials(study.id)) {
      if (t.state != TrialState::kComplete || !t.value) rows.push_back(std::move(t));
    }
  }
  std::set<std::string> param_names;
  for (const auto& t : rows) {
    for (const auto& item : t.params.items()) param_names.insert(item.key());
  }
  switch (options.format) {
    case OutputFormat::kJson:
      WriteJson(out, study, rows);
      return;
    case OutputFormat::kCsv:
      WriteCsv(out, study, rows, param_names);
      return;
    case OutputFormat::kTable:
      WriteTable(out, study, rows, param_names, options.all_states);
      return;
  }
}

}  // namespace ensweep
