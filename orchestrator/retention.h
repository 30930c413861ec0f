// Checkpoint retention: the study's `checkpoints: {keep: N | all | none}` block.
//
// With `keep: N` the checkpoint files (artifact kinds beginning with "checkpoint": model.pt,
// model_fold<k>.pt) of the best N COMPLETE trials by the objective are kept and every other
// ended trial's (COMPLETE below the best N, PRUNED, FAILED) are deleted; `none` keeps no
// checkpoint; `all` (the default) deletes nothing. Predictions, indexes and confusion matrices are
// always kept, so ensembles of any trial still work. A trial that leaves the best N later loses
// its checkpoint then.
//
// The coordinator sweeps after every round in which a trial ended (after the round's commit) and
// once when the run ends. A sweep forgets the artifact rows first, all in one store transaction
// (Store::ForgetArtifacts, so no reader is ever pointed at a missing file), then removes the
// files. Each trial's artifacts are looked up once: a trial swept is not looked at again. A sweep
// takes the artifact folder's lock exclusively without waiting (core/artifact_lock.h): while a
// reader
// (`ensweep ensemble`, `ensweep predict`) holds it, the sweep is postponed and Sweep returns
// false; the next sweep does the work. A file that cannot be removed is left (its row is gone)
// and named in the returned notes.
//
// Not thread-safe; the coordinator's thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/store.h"
#include "core/study.h"

namespace ensweep {

class CheckpointRetention {
 public:
  // References must outlive the object.
  CheckpointRetention(const StudySpec& spec, Store& store);

  bool enabled() const { return spec_.checkpoints.keep != CheckpointSpec::kAll; }
  // Deletes the checkpoints `trials` (the study's, any order) no longer keep; false when a reader
  // held the artifact folder and the sweep was postponed. `notes` gets one line per problem.
  bool Sweep(const std::vector<TrialRecord>& trials, std::vector<std::string>& notes);
  // Checkpoint files deleted so far by this object.
  int64_t deleted() const { return deleted_; }

 private:
  // Trial numbers whose checkpoints are kept now: the best `keep` COMPLETE trials.
  std::set<int64_t> Kept(const std::vector<TrialRecord>& trials) const;

  const StudySpec& spec_;
  Store& store_;
  std::set<int64_t> swept_;  // trials whose checkpoints are gone (or that had none)
  int64_t deleted_ = 0;
};

}  // namespace ensweep
