// The contract between a worker and whatever trains one trial.
//
// A worker process owns one Trainer for its lifetime (so data decoded for the first trial is reused
// by every later one) and calls Run once per trial, on the worker's main thread. The trainer calls
// back into TrialContext after every epoch; the coordinator's answer (continue or stop) comes back
// as the return value. Run throws on failure (bad parameter, NaN loss, unreadable data): the
// worker catches, reports FAIL with the text, and takes the next trial.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ensweep {

struct TrialRequest {
  int64_t trial_number = 0;
  uint64_t seed = 0;         // derived from the study seed and the trial number; stored
  nlohmann::json params;     // the sampled parameters, name -> value
  int epochs = 1;            // the study's epoch budget for one trial
  std::string artifact_dir;  // absolute; created by the trainer if missing
};

// Metric names used across ensweep: train_loss, val_loss, val_accuracy, val_macro_f1, ...
using MetricMap = std::map<std::string, double>;

struct EpochReport {
  int epoch = 0;  // 1-based
  MetricMap metrics;
};

struct ArtifactRecord {
  std::string kind;  // checkpoint | val_probs | val_index | eval_probs | ...
  std::string path;  // absolute
  int64_t size_bytes = 0;
  std::string checksum;  // "fnv1a64:<hex>" of the file's bytes
};

// The one JSON form of an artifact (DONE messages, `ensweep show -f json`):
// {"kind", "path", "size_bytes", "checksum"}. from_json throws nlohmann::json::exception if a key
// is missing or of the wrong type; it checks no limits (the protocol's decoder does).
void to_json(nlohmann::json& j, const ArtifactRecord& a);
void from_json(const nlohmann::json& j, ArtifactRecord& a);

struct TrialResult {
  MetricMap metrics;  // the final evaluated model's metrics (includes the study's objective)
  std::vector<ArtifactRecord> artifacts;
  int epochs_completed = 0;
  bool stopped_early = false;  // the coordinator answered STOP to a report
};

class TrialContext {
 public:
  virtual ~TrialContext() = default;
  // Sends the epoch's metrics; returns true to continue training, false to stop now.
  virtual bool ReportEpoch(const EpochReport& report) = 0;
  // Cheap; call often (e.g. every batch) during long work so the coordinator knows the worker is
  // alive. Rate-limited by the implementation.
  virtual void KeepAlive() = 0;
};

class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual TrialResult Run(const TrialRequest& request, TrialContext& context) = 0;
  // A short description of the compute device ("cpu x2 threads", "cuda:0 NVIDIA H100").
  virtual std::string Device() const = 0;
};

// Helper for trainers: size and checksum of a file written as an artifact.
ArtifactRecord DescribeArtifact(const std::string& kind, const std::string& path);

}  // namespace ensweep
