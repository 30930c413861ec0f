// The leaderboard shared by `ensweep top` and the end of `ensweep run`.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "core/store.h"

namespace ensweep {

enum class OutputFormat { kTable, kCsv, kJson };

// Parses "table", "csv" or "json"; throws UserError otherwise.
OutputFormat ParseOutputFormat(const std::string& text);

struct LeaderboardOptions {
  int limit = 10;           // <= 0: every trial
  bool all_states = false;  // also list trials that are not COMPLETE, after the ranked ones
  OutputFormat format = OutputFormat::kTable;
};

// "12 complete, 18 pruned, 1 running": the study's trials by state, states with no trial left out
// (complete is always there).
std::string TrialStateCounts(const StudyRecord& study);

// Table: rank, trial, state, the objective, epochs, best_epoch (when a listed trial has one, see
// BestEpoch), time, the parameters; with all_states also the
// error, cut to one short line. CSV: the same with the objective and parameters at full precision,
// then every final metric of the listed trials (one column each, by name; one named like an
// earlier column gets the prefix "metric."), then the whole error text. JSON: one object per
// trial with its params, metrics and error.
void PrintLeaderboard(std::ostream& out, const Store& store, const StudyRecord& study,
                      const LeaderboardOptions& options);

// One parameter value as a short string: 0.0123, 1.2e-05, 64, resnet18, true.
std::string ParamText(const nlohmann::json& value);

// Under objective.scope best, the epoch whose value and model a trial kept (its final metric
// best_epoch); nullopt when it has none.
std::optional<int64_t> BestEpoch(const TrialRecord& trial);

// The first line of an error, cut to 60 characters ending in "..." (tables are for the eye;
// `ensweep show` and the CSV give the whole text); never cuts a UTF-8 character in two.
std::string ShortError(const std::string& error);

// A value as a CSV field read by programs: a string as it is, null as an empty field, a number at
// full precision (the shortest text that reads back as the same double; nan, inf, -inf), anything
// else as JSON.
std::string CsvText(const nlohmann::json& value);

}  // namespace ensweep
