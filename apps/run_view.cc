#include "apps/run_view.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/log_writer.h"

namespace ensweep {

int TerminalColumns() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int value = std::atoi(columns);
    if (value > 0) return value;
  }
  return 80;
}

ProgressView ChooseProgressView(bool verbose, bool live_allowed) {
  ProgressView view;
  view.verbose = verbose;
  const char* term = std::getenv("TERM");
  view.terminal = live_allowed && isatty(STDOUT_FILENO) == 1 &&
                  !(term != nullptr && std::strcmp(term, "dumb") == 0);
  if (view.terminal) view.columns = TerminalColumns;
  return view;
}

LogAroundView::LogAroundView(ProgressPrinter* printer) : active_(printer != nullptr) {
  if (!active_) return;
  SetLogWriter([printer](const std::string& line) {
    printer->Interject([&line] {
      std::fputs(line.c_str(), stderr);
      std::fflush(stderr);
    });
  });
}

LogAroundView::~LogAroundView() {
  if (active_) SetLogWriter(nullptr);
}

ErrorRelay::ErrorRelay(ProgressPrinter* printer) : printer_(printer) {
  if (printer_ == nullptr || isatty(STDERR_FILENO) != 1) return;
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return;  // the workers inherit stderr instead
  read_end_ = ends[0];
  write_end_ = ends[1];
  thread_ = std::thread([this] { Relay(); });
}

void ErrorRelay::StartedAll() {
  if (write_end_ < 0) return;
  close(write_end_);
  write_end_ = -1;
}

ErrorRelay::~ErrorRelay() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (write_end_ >= 0) close(write_end_);
  if (read_end_ >= 0) close(read_end_);
}

void ErrorRelay::Write(const std::string& line) {
  printer_->Interject([&line] {
    std::fputs(line.c_str(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  });
}

void ErrorRelay::Relay() {
  std::string pending;  // a line not ended yet
  char buffer[4096];
  int idle_after_stop = 0;
  while (true) {
    pollfd poll_fd{read_end_, POLLIN, 0};
    const int ready = poll(&poll_fd, 1, 100);
    if (ready == 0) {
      // Once stopping, 1 s more for the last words of workers that are still exiting.
      if (stopping_ && ++idle_after_stop >= 10) break;
      continue;
    }
    if (ready < 0) continue;  // EINTR (a stop signal)
    const ssize_t got = read(read_end_, buffer, sizeof(buffer));
    if (got <= 0) break;  // every worker has closed its end
    pending.append(buffer, static_cast<size_t>(got));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      Write(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty()) Write(pending);
}

}  // namespace ensweep
