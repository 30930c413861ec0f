// `ensweep history`: every trial's per-epoch reports as one flat table (CSV or JSON records), with
// the trial's parameters as columns, for pandas and spreadsheets. Read-only, safe while a run
// writes.
#include <fstream>
#include <iostream>
#include <set>

#include "apps/commands.h"
#include "apps/leaderboard.h"
#include "apps/study_locator.h"
#include "core/csv.h"
#include "core/error.h"

namespace ensweep {
namespace {

struct HistoryOptions {
  StudyLocator locator;
  std::string format = "csv";
  std::string output;
};

// The columns: study, trial, state, epoch, the per-epoch metrics (by name), at, elapsed_s, then
// the parameters (by name). A metric or parameter named like an earlier column gets the prefix
// "metric." or "param.".
struct HistoryColumns {
  std::vector<std::string> metrics, params;          // the names in the store
  std::vector<std::string> metric_cols, param_cols;  // their column names
  std::vector<std::string> header;
};

HistoryColumns ColumnsOf(const std::vector<TrialRecord>& trials,
                         const std::vector<std::vector<EpochRecord>>& epochs) {
  std::set<std::string> metric_names, param_names;
  for (const auto& list : epochs)
    for (const auto& e : list)
      for (const auto& [name, value] : e.metrics) metric_names.insert(name);
  for (const auto& t : trials)
    for (const auto& item : t.params.items()) param_names.insert(item.key());
  HistoryColumns c;
  c.header = {"study", "trial", "state", "epoch"};
  std::set<std::string> taken(c.header.begin(), c.header.end());
  taken.insert({"at", "elapsed_s"});
  auto add = [&](const std::string& name, const std::string& prefix) {
    const std::string column = taken.count(name) ? prefix + name : name;
    taken.insert(column);
    c.header.push_back(column);
    return column;
  };
  for (const auto& name : metric_names) {
    c.metrics.push_back(name);
    c.metric_cols.push_back(add(name, "metric."));
  }
  c.header.push_back("at");
  c.header.push_back("elapsed_s");
  for (const auto& name : param_names) {
    c.params.push_back(name);
    c.param_cols.push_back(add(name, "param."));
  }
  return c;
}

// One record per trial and epoch report, as JSON values in the header's order (null: none); a
// trial without any report gives one record with a null epoch.
std::vector<std::vector<nlohmann::json>> Records(
    const std::string& study, const std::vector<TrialRecord>& trials,
    const std::vector<std::vector<EpochRecord>>& epochs, const HistoryColumns& c) {
  std::vector<std::vector<nlohmann::json>> out;
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& t = trials[i];
    std::vector<const EpochRecord*> reports;
    for (const auto& e : epochs[i]) reports.push_back(&e);
    if (reports.empty()) reports.push_back(nullptr);
    for (const EpochRecord* e : reports) {
      std::vector<nlohmann::json> row = {study, t.number, TrialStateName(t.state),
                                         e ? nlohmann::json(e->epoch) : nlohmann::json()};
      for (const auto& name : c.metrics) {
        const auto it = e ? e->metrics.find(name) : MetricMap::const_iterator();
        row.push_back(e && it != e->metrics.end() ? nlohmann::json(it->second) : nlohmann::json());
      }
      row.push_back(e && e->at > 0 ? nlohmann::json(e->at) : nlohmann::json());
      row.push_back(e && e->at > 0 && t.started_at > 0 ? nlohmann::json(e->at - t.started_at)
                                                       : nlohmann::json());
      for (const auto& name : c.params) {
        const auto it = t.params.find(name);
        row.push_back(it == t.params.end() ? nlohmann::json() : *it);
      }
      out.push_back(std::move(row));
    }
  }
  return out;
}

void WriteHistory(std::ostream& out, OutputFormat format, const HistoryColumns& c,
                  const std::vector<std::vector<nlohmann::json>>& records) {
  if (format == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& row : records) {
      nlohmann::json object = nlohmann::json::object();
      for (size_t k = 0; k < row.size(); ++k) object[c.header[k]] = row[k];
      list.push_back(std::move(object));
    }
    out << list.dump(2) << "\n";
    return;
  }
  WriteCsvRow(out, c.header);
  std::vector<std::string> fields;
  for (const auto& row : records) {
    fields.clear();
    for (const auto& value : row) fields.push_back(CsvText(value));
    WriteCsvRow(out, fields);
  }
}

int RunHistory(const HistoryOptions& o) {
  const OutputFormat format = ParseOutputFormat(o.format);
  auto found = o.locator.Open();
  const std::vector<TrialRecord> trials = found.store->Trials(found.study.id);
  std::vector<std::vector<EpochRecord>> epochs;
  for (const auto& t : trials) epochs.push_back(found.store->Epochs(t.id));
  const HistoryColumns columns = ColumnsOf(trials, epochs);
  const auto records = Records(found.study.name, trials, epochs, columns);
  if (o.output.empty()) {
    WriteHistory(std::cout, format, columns, records);
    return 0;
  }
  std::ofstream file(o.output, std::ios::binary | std::ios::trunc);
  if (!file) throw UserError("--output: cannot write " + o.output);
  WriteHistory(file, format, columns, records);
  file.close();
  if (!file) throw UserError("--output: writing " + o.output + " failed");
  std::cerr << "history: " << records.size() << " rows (" << trials.size() << " trials) written to "
            << o.output << "\n";
  return 0;
}

}  // namespace

Command AddHistoryCommand(CLI::App& root) {
  auto o = std::make_shared<HistoryOptions>();
  CLI::App* app = root.add_subcommand(
      "history",
      "Every trial's per-epoch metrics as one table (CSV or JSON), parameters as columns");
  app->footer(
      "One row per trial and epoch report: study, trial, state, epoch, each per-epoch metric,\n"
      "at (Unix seconds of the report), elapsed_s (since the trial started), then each parameter.\n"
      "A trial with no report yet has one row with an empty epoch. Numbers at full precision.\n"
      "Safe while a run writes.\n\n"
      "Examples:\n"
      "  ensweep history studies/quickstart.yaml -o history.csv\n"
      "  ensweep history --db runs/quickstart/ensweep.sqlite --study quickstart -f json\n"
      "  # pandas: pandas.read_csv('history.csv').pivot(index='epoch', columns='trial',\n"
      "  #                                              values='val_macro_f1')");
  o->locator.AddOptions(app);
  app->add_option("-f,--format", o->format, "csv or json (default csv)")
      ->check(CLI::IsMember({"csv", "json"}));
  app->add_option("-o,--output", o->output, "Write to FILE instead of standard output");
  return {app, [o] { return RunHistory(*o); }};
}

}  // namespace ensweep
