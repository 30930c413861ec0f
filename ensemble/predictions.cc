#include "ensemble/predictions.h"

#include "core/csv.h"
#include "core/error.h"

namespace ensweep {
namespace {

std::string ArtifactPath(const std::vector<ArtifactRecord>& artifacts, const std::string& kind) {
  for (const auto& a : artifacts) {
    if (a.kind == kind) return a.path;
  }
  return "";
}

}  // namespace

TrialPredictions LoadTrialPredictions(const Store& store, const TrialRecord& trial,
                                      int num_classes) {
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
  if (num_classes > 0 ? p.val_probs.cols != num_classes : p.val_probs.cols < 2) {
    throw UserError(who + ": " + val_probs + " has " + std::to_string(p.val_probs.cols) +
                    " columns, expected " +
                    (num_classes > 0 ? std::to_string(num_classes) + " (one per class)"
                                     : std::string("one per class (at least 2)")));
  }
  const CsvTable index = ReadCsv(val_index);
  const size_t label_col = index.Column("label");
  const size_t path_col = index.Column("path");
  const size_t person_col = index.Column("person");
  for (size_t r = 0; r < index.rows.size(); ++r) {
    const std::string where = val_index + ":" + std::to_string(index.lines[r]);
    int label = -1;
    try {
      size_t used = 0;
      label = std::stoi(index.rows[r][label_col], &used);
      if (used != index.rows[r][label_col].size()) label = -1;
    } catch (const std::exception&) {
    }
    if (label < 0 || label >= p.val_probs.cols) {
      throw UserError(where + ": label '" + index.rows[r][label_col] + "' is not a class 0.." +
                      std::to_string(p.val_probs.cols - 1));
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
    if (p.eval_probs->cols != p.val_probs.cols) {
      throw UserError(who + ": " + eval_probs + " has " + std::to_string(p.eval_probs->cols) +
                      " columns but " + val_probs + " has " + std::to_string(p.val_probs.cols));
    }
  }
  return p;
}

void CheckSameValidationRows(const std::vector<TrialPredictions>& members) {
  for (size_t i = 1; i < members.size(); ++i) {
    if (members[i].val_probs.cols != members[0].val_probs.cols) {
      throw UserError("trial " + std::to_string(members[i].number) + " predicted " +
                      std::to_string(members[i].val_probs.cols) + " classes but trial " +
                      std::to_string(members[0].number) + " predicted " +
                      std::to_string(members[0].val_probs.cols) +
                      "; ensemble members must share the classes");
    }
    if (members[i].val_paths != members[0].val_paths) {
      throw UserError("trial " + std::to_string(members[i].number) +
                      " was validated on different images than trial " +
                      std::to_string(members[0].number) +
                      " (a different split?); ensemble members must share the validation set");
    }
  }
}

}  // namespace ensweep
