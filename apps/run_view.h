// How `ensweep run` shows its progress on this process's standard output: the live terminal view
// or plain lines (orchestrator/progress.h), and the output of others written around the live
// view (log lines, the local workers' standard error).
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "orchestrator/progress.h"

namespace ensweep {

// The live view when standard output is a terminal (and TERM is not "dumb") and `live_allowed`;
// plain lines otherwise. `verbose`: a line per epoch too.
ProgressView ChooseProgressView(bool verbose, bool live_allowed);

// The width of the terminal on standard output (TIOCGWINSZ), else $COLUMNS, else 80.
int TerminalColumns();

// While it lives, this process's log lines (core/log.h) are written around `printer`'s view;
// null: nothing changes.
class LogAroundView {
 public:
  explicit LogAroundView(ProgressPrinter* printer);
  ~LogAroundView();
  LogAroundView(const LogAroundView&) = delete;
  LogAroundView& operator=(const LogAroundView&) = delete;

 private:
  bool active_;
};

// A pipe for the local workers' standard error whose lines a thread writes to this process's
// standard error around `printer`'s view, so that they never land inside it. Null printer, or
// standard error not a terminal: no pipe (WriteEnd() is -1: the workers inherit stderr).
class ErrorRelay {
 public:
  explicit ErrorRelay(ProgressPrinter* printer);
  ~ErrorRelay();  // writes what is left once the workers are gone (or after 1 s), then stops
  ErrorRelay(const ErrorRelay&) = delete;
  ErrorRelay& operator=(const ErrorRelay&) = delete;

  // The descriptor to give each worker as its standard error; -1: none.
  int WriteEnd() const { return write_end_; }
  // Every worker has its copy: this process closes its own, so the pipe ends with them.
  void StartedAll();

 private:
  void Relay();
  void Write(const std::string& line);

  ProgressPrinter* printer_;
  int read_end_ = -1, write_end_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ensweep
