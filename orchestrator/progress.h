// What a run reports as it goes, and the human-readable progress of `ensweep run`.
//
// The coordinator and its trial book (orchestrator/trial_book.h) tell a RunObserver about every
// change as it is made, inside the round's store transaction. ProgressPrinter turns the events
// into lines and holds them, and its picture of the run, until the round has been committed
// (Flush), so that nothing shown reports what the store does not hold; Drop forgets the lines and
// changes of a round whose commit failed.
//
// Two views (ProgressView::terminal):
//  - plain (a log file, CI, a pipe): lines without any control code: the notes (workers joining
//    or lost, a resume), one line per finished trial, with `verbose` one per epoch, and a status
//    line (StatusLine) at most every `status_every` and at every tenth of the planned trials
//    (from 20 trials on), so that a long run shows it is alive in its log;
//  - terminal: the same lines, each cut to the terminal's width but the notes (a finished
//    trial's in a shorter form: "trial 7 COMPLETE  val_macro_f1=0.4123  61.0s  lr=0.003 ..."),
//    scroll above a live status block that is redrawn in place (ANSI cursor-up and clear-line): the
//    trials ended (complete, pruned, failed) / running / queued of planned; the best so far,
//    elapsed time and an estimate of the time left; then one line per running trial (its
//    worker, epoch and latest objective; 12 at most). The block is redrawn with every round
//    that printed a line, else at most once per `redraw_every` when something changed, and once
//    a second for the clock. Lines from elsewhere (log lines, the local workers' standard error)
//    go through Interject, which takes the block away while they are written.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/study.h"
#include "core/trial.h"

namespace ensweep {

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // A line about the study or its workers (a resume, a worker joining or lost).
  virtual void Note(const std::string& line) = 0;
  // The study as the run opened it: its trials that had ended (COMPLETE, PRUNED, FAILED; STALE
  // ones without retries left count as failed), the trials planned, and its best trial.
  struct Opened {
    int64_t complete = 0, pruned = 0, failed = 0;
    int64_t planned = 0;
    const TrialRecord* best = nullptr;
  };
  virtual void StudyOpened(const Opened& /*opened*/) {}
  // `trial` started (or restarted) on `trial.worker` (a gang's: its members' names).
  virtual void TrialStarted(const TrialRecord& /*trial*/) {}
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
  // `trial` went back to the queue unfinished (a stop, a worker that gave it back).
  virtual void TrialRequeued(const TrialRecord& /*trial*/) {}
};

// How ProgressPrinter shows the run; the defaults are the plain view.
struct ProgressView {
  bool terminal = false;  // the live status block (ANSI control codes); false: plain lines
  bool verbose = false;   // also a line per epoch of every trial
  // The terminal's width in columns, read at every redraw; null: 80.
  std::function<int()> columns;
  // The clock for elapsed times and redraws; null: std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> now;
  std::chrono::seconds status_every{30};        // plain: the periodic status line
  std::chrono::milliseconds redraw_every{250};  // terminal: the least time between redraws
  std::chrono::milliseconds clock_every{1000};  // terminal: a redraw for the elapsed time
};

class ProgressPrinter : public RunObserver {
 public:
  // `out` null: silent. `spec` must outlive the printer.
  ProgressPrinter(std::ostream* out, const StudySpec& spec, ProgressView view = {});

  void Note(const std::string& line) override;
  void StudyOpened(const Opened& opened) override;
  void TrialStarted(const TrialRecord& trial) override;
  void EpochRecorded(const TrialRecord& trial, int epoch, const MetricMap& metrics,
                     bool pruned) override;
  void TrialEnded(const Ended& ended) override;
  void TrialStale(const TrialRecord& trial, bool retried) override;
  void TrialRequeued(const TrialRecord& trial) override;

  // Writes `line` at once, outside any round (a wait); to the log when silent.
  void NoteNow(const std::string& line);
  // Shows what was held since the last Flush or Drop: its lines, then (terminal) the redrawn
  // block or (plain) a status line when one is due. Called every round, also to keep the
  // terminal's clock going.
  void Flush();
  // Forgets them (their round was rolled back).
  void Drop();
  // The run is over: the terminal's block is taken away for good (the summary follows).
  void Finish();
  // Runs `write` (which writes a line elsewhere, e.g. to standard error) with the block taken
  // away, then redraws it. Thread-safe: for log lines and other processes' output.
  void Interject(const std::function<void()>& write);

  // "12/40 ended (9 complete, 2 pruned, 1 failed), 2 running, 26 queued; best 0.4123 (trial 7);
  // 3m12s elapsed, about 7m00s left": the run as shown at the last Flush. The time left is the
  // run's pace so far (its time per ended trial) over the trials left, at most what the time
  // budget leaves.
  std::string StatusLine() const;

 private:
  struct Running {
    std::string worker;
    int epoch = 0;
    std::optional<double> value;  // the objective at `epoch`
  };
  // What the view shows of the run: `pending_` takes the round's events, `shown_` is it as of
  // the last Flush.
  struct Board {
    int64_t ended = 0, complete = 0, pruned = 0, failed = 0, planned = 0;
    int64_t ended_this_run = 0;
    std::optional<int64_t> best_number;
    double best_value = 0;
    std::map<int64_t, Running> running;  // by trial number
  };

  // `fit`: cut to the terminal's width (trial and epoch lines; notes are written whole).
  void Queue(std::string line, bool fit);
  void NoteBest(const TrialRecord* best);
  void FlushPlain(std::chrono::steady_clock::time_point now);
  void FlushTerminal(std::chrono::steady_clock::time_point now);
  // Terminal: takes the block away (the cursor ends where its first line was).
  void EraseBlock();
  void DrawBlock(std::chrono::steady_clock::time_point now);
  std::vector<std::string> BlockLines(std::chrono::steady_clock::time_point now) const;
  // The trials' line and the best-and-times line of the status.
  std::pair<std::string, std::string> StatusAt(std::chrono::steady_clock::time_point now) const;
  std::chrono::steady_clock::time_point Now() const;
  int Columns() const;

  std::ostream* out_;
  const StudySpec& spec_;
  ProgressView view_;
  struct Line {
    std::string text;
    bool fit;
  };
  std::vector<Line> unprinted_;
  Board pending_, shown_;
  bool changed_ = false;  // pending_ differs from shown_
  std::chrono::steady_clock::time_point started_;
  // Plain: when the last status line was printed, and the tenth of the planned trials it was at.
  std::chrono::steady_clock::time_point last_status_;
  int64_t last_tenth_ = 0;
  // Terminal: the block's lines on screen (0: none), when it was drawn, whether it is stale.
  mutable std::mutex mutex_;  // Interject against Flush: the block on screen and `shown_`
  int drawn_lines_ = 0;
  std::chrono::steady_clock::time_point last_draw_;
  bool dirty_ = false;
  bool finished_ = false;
};

// Fits `line` into `columns` terminal columns (counting UTF-8 characters), ending a longer one
// with "...". A `columns` below 8 is taken as 8.
std::string FitWidth(const std::string& line, int columns);

}  // namespace ensweep
