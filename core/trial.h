// Trial and study records as the store keeps them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep {

// QUEUED -> RUNNING -> COMPLETE | PRUNED | FAILED; RUNNING -> STALE when its worker is lost (a
// STALE trial with retries left runs again with the same number, parameters and seed).
enum class TrialState { kQueued, kRunning, kComplete, kPruned, kFailed, kStale };

const char* TrialStateName(TrialState state);  // "QUEUED", "RUNNING", ...
// Accepts the names above in any case; throws UserError otherwise.
TrialState ParseTrialState(const std::string& name);
bool IsFinished(TrialState state);  // COMPLETE, PRUNED or FAILED

struct TrialRecord {
  int64_t id = 0;
  int64_t study_id = 0;
  int64_t number = 0;  // 0-based within the study
  TrialState state = TrialState::kQueued;
  nlohmann::json params = nlohmann::json::object();
  uint64_t seed = 0;
  std::optional<double> value;  // the objective, once COMPLETE (or PRUNED with a report)
  nlohmann::json metrics = nlohmann::json::object();  // final metrics
  int epochs_done = 0;
  std::string worker;
  double queued_at = 0, started_at = 0, finished_at = 0;  // Unix seconds; 0 = not yet
  std::string error;
  int retries = 0;
};

struct EpochRecord {
  int epoch = 0;
  MetricMap metrics;
  double at = 0;
};

struct StudyRecord {
  int64_t id = 0;
  std::string name;
  nlohmann::json spec;
  std::string spec_hash;
  double created_at = 0;
  std::string metric;
  bool maximize = true;
  int64_t trial_count = 0;
  int64_t complete_count = 0;
  int64_t running_count = 0;
  int64_t failed_count = 0;
  int64_t pruned_count = 0;
  int64_t stale_count = 0;
  int64_t queued_count = 0;
  std::optional<double> best_value;
};

struct EnsembleRecord {
  int64_t id = 0;
  int64_t study_id = 0;
  std::string method;
  nlohmann::json settings = nlohmann::json::object();
  std::vector<int64_t> member_numbers;  // trial numbers
  std::vector<double> weights;
  nlohmann::json metrics = nlohmann::json::object();
  std::string submission_path;
  double created_at = 0;
};

}  // namespace ensweep
