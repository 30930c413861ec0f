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

// The gang a trial runs on when it needs several slots (`resources.slots_per_trial` > 1): one
// data-parallel trial trained by `size` workers at once. Every member receives the same
// TrialRequest except for `rank`. Rank 0 reports epochs, metrics and artifacts; every member calls
// ReportEpoch after every epoch and gets the same answer (the coordinator answers a gang's epoch
// only once rank 0 has reported it, so a prune or stop reaches every member before the next
// epoch). A gang of size 1 is an ordinary trial.
struct GangInfo {
  int size = 1;  // members
  int rank = 0;  // this member's rank, 0 .. size-1
  // Unique per gang attempt (the study, trial number and attempt); names the communicator.
  std::string key;
  // When the workers are MPI ranks: the members' MPI_COMM_WORLD ranks, by gang rank. Empty for
  // local and TCP workers.
  std::vector<int> mpi_ranks;
  // The address other members can reach this worker at (its side of its connection to the
  // coordinator, or its host name); where rank 0's communicator listens.
  std::string advertise_host;
};

struct TrialRequest {
  int64_t trial_number = 0;
  uint64_t seed = 0;         // derived from the study seed and the trial number; stored
  nlohmann::json params;     // the sampled parameters, name -> value
  int epochs = 1;            // the study's epoch budget for one trial
  std::string artifact_dir;  // absolute; created by the trainer if missing
  GangInfo gang;             // size 1 unless the trial runs on several slots
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
  // alive. Rate-limited by the implementation. In a gang trial, ReportEpoch and (where the
  // worker's channel can look for it without waiting) KeepAlive throw std::runtime_error once the
  // coordinator has aborted the attempt (another member failed or was lost): let it propagate.
  virtual void KeepAlive() = 0;
  // Gang trials only, once per attempt before training: rank 0 passes what the other members
  // need to join its communicator (an address and secret, an NCCL unique id) and gets it back at
  // once; every other rank passes "" and blocks (keeping the worker alive) until rank 0's blob
  // arrives through the coordinator. Throws std::runtime_error when the gang's attempt is
  // aborted (a member was lost) or the coordinator goes away. The default throws: a context that
  // serves only 1-slot trials need not implement it.
  virtual std::string Rendezvous(const std::string& blob);
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
