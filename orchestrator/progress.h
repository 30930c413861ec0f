// What a run reports as it goes, and the human-readable progress lines of `ensweep run`.
//
// The coordinator and its trial book (orchestrator/trial_book.h) tell a RunObserver about every
// change as it is made, inside the round's store transaction. ProgressPrinter turns the events
// into lines and holds them until the round has been committed (Flush), so that a line never
// reports what the store does not hold; Drop forgets the lines of a round whose commit failed.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // A line about the study or its workers (a resume, a worker joining or lost).
  virtual void Note(const std::string& line) = 0;
  // `trial` reported `epoch`; `pruned`: the pruner stopped it there.
  virtual void EpochRecorded(const TrialRecord& trial, int epoch, const MetricMap& metrics,
                             bool pruned) = 0;
  // `trial` ended (COMPLETE, PRUNED or FAILED), the `position`-th of `planned` trials to end;
  // `best`: the best COMPLETE trial so far, if any; `seconds`: how long it ran.
  struct Ended {
    const TrialRecord& trial;
    int64_t position;
    int64_t planned;
    const TrialRecord* best;
    double seconds;
  };
  virtual void TrialEnded(const Ended& ended) = 0;
  // `trial` became STALE (its worker was lost); `retried`: it runs again.
  virtual void TrialStale(const TrialRecord& trial, bool retried) = 0;
};

class ProgressPrinter : public RunObserver {
 public:
  // `out` null: silent. `spec` must outlive the printer.
  ProgressPrinter(std::ostream* out, const StudySpec& spec);

  void Note(const std::string& line) override;
  void EpochRecorded(const TrialRecord& trial, int epoch, const MetricMap& metrics,
                     bool pruned) override;
  void TrialEnded(const Ended& ended) override;
  void TrialStale(const TrialRecord& trial, bool retried) override;

  // Writes `line` at once, outside any round (a wait); to the log when silent.
  void NoteNow(const std::string& line);
  // Writes the lines held since the last Flush or Drop.
  void Flush();
  // Forgets them (their round was rolled back).
  void Drop() { unprinted_.clear(); }

 private:
  void Queue(std::string line);

  std::ostream* out_;
  const StudySpec& spec_;
  std::vector<std::string> unprinted_;
};

}  // namespace ensweep
