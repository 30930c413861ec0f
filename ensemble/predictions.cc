#include "ensemble/predictions.h"

#include "core/csv.h"
#include "core/error.h"
#include "core/mask_layout.h"

namespace ensweep {
namespace {

std::string ArtifactPath(const std::vector<ArtifactRecord>& artifacts, const std::string& kind) {
  for (const auto& a : artifacts) {
    if (a.kind == kind) return a.path;
  }
  return "";
}

}  // namespace

TrialPredictions LoadTrialPredictions(const Store& store, const TrialRecord& trial) {
  const std::string who = "trial " + std::to_string(trial.number);
  const auto artifacts = store.Artifacts(trial.id);
  const std::string val_probs = ArtifactPath(artifacts, "val_probs");
  const std::string val_index = ArtifactPath(artifacts, "val_index");
  if (val_probs.empty() || val_index.empty()) {
    throw UserError(who + ": no validation predictions recorded (val_probs and val_index)");
  }
  TrialPredictions p;
  p.number = trial.number;
  try {
    p.val_probs = ReadNpy(val_probs);
  } catch (const UserError& e) {
    throw UserError(who + ": " + e.what());
  }
  if (p.val_probs.cols != kNumClasses) {
    throw UserError(who + ": " + val_probs + " has " + std::to_string(p.val_probs.cols) +
                    " columns, expected " + std::to_string(kNumClasses));
  }
  const CsvTable index = ReadCsv(val_index);
  const size_t label_col = index.Column("label");
  const size_t path_col = index.Column("path");
  const size_t person_col = index.Column("person");
  for (size_t r = 0; r < index.rows.size(); ++r) {
    const int label = std::stoi(index.rows[r][label_col]);
    if (label < 0 || label >= kNumClasses) {
      throw UserError(val_index + ":" + std::to_string(index.lines[r]) + ": label out of range");
    }
    p.val_labels.push_back(label);
    p.val_paths.push_back(index.rows[r][path_col]);
    p.val_persons.push_back(index.rows[r][person_col]);
  }
  if (static_cast<int64_t>(p.val_labels.size()) != p.val_probs.rows) {
    throw UserError(who + ": " + val_index + " has " + std::to_string(p.val_labels.size()) +
                    " rows but " + val_probs + " has " + std::to_string(p.val_probs.rows));
  }
  const std::string eval_probs = ArtifactPath(artifacts, "eval_probs");
  if (!eval_probs.empty()) {
    try {
      p.eval_probs = ReadNpy(eval_probs);
    } catch (const UserError& e) {
      throw UserError(who + ": " + e.what());
    }
  }
  return p;
}

void CheckSameValidationRows(const std::vector<TrialPredictions>& members) {
  for (size_t i = 1; i < members.size(); ++i) {
    if (members[i].val_paths != members[0].val_paths) {
      throw UserError("trial " + std::to_string(members[i].number) +
                      " was validated on different images than trial " +
                      std::to_string(members[0].number) +
                      " (a different split?); ensemble members must share the validation set");
    }
  }
}

}  // namespace ensweep
