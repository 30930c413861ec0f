#include "orchestrator/progress.h"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "core/log.h"

namespace ensweep {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUpAndClear = "\x1b[1A\x1b[2K";  // cursor one line up, that line cleared

std::string FormatValue(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
}

// "42s", "3m12s", "1h04m".
std::string ShortDuration(double seconds) {
  const long long s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  char text[32];
  if (s < 60) {
    std::snprintf(text, sizeof(text), "%llds", s);
  } else if (s < 3600) {
    std::snprintf(text, sizeof(text), "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  }
  return text;
}

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// "backbone=resnet18 lr=0.0123 ..." with numbers shortened for one line of progress.
std::string ShortParams(const Json& params) {
  std::string out;
  for (const auto& item : params.items()) {
    std::string value;
    if (item.value().is_number_float()) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.4g", item.value().get<double>());
      value = text;
    } else if (item.value().is_string()) {
      value = item.value().get<std::string>();
    } else {
      value = item.value().dump();
    }
    out += (out.empty() ? "" : " ") + item.key() + "=" + value;
  }
  return out;
}

// The "[  12/40] trial 11 COMPLETE  ..." line of a trial that ended.
std::string EndedLine(const RunObserver::Ended& ended, const StudySpec& spec) {
  const TrialRecord& trial = ended.trial;
  std::ostringstream line;
  char head[64];
  std::snprintf(head, sizeof(head), "[%4lld/%lld] trial %lld ",
                static_cast<long long>(ended.position), static_cast<long long>(ended.planned),
                static_cast<long long>(trial.number));
  line << head;
  const std::string& metric = spec.objective.metric;
  if (trial.state == TrialState::kFailed) {
    line << "FAILED    " << trial.error;
  } else if (trial.state == TrialState::kPruned) {
    line << "PRUNED    at epoch " << trial.epochs_done << "/" << spec.budget.epochs;
    if (trial.value) line << "  " << metric << "=" << FormatValue(*trial.value);
    line << "  " << ShortParams(trial.params);
  } else {
    char tail[96];
    std::snprintf(tail, sizeof(tail), "  best %s (trial %lld)  %.1fs  ",
                  FormatValue(ended.best ? ended.best->value.value_or(0) : 0).c_str(),
                  static_cast<long long>(ended.best ? ended.best->number : trial.number),
                  ended.seconds);
    line << "COMPLETE  " << metric << "=" << FormatValue(trial.value.value_or(0)) << tail
         << ShortParams(trial.params);
  }
  return line.str();
}

// The terminal's shorter line of a trial that ended: the status block shows the position and
// the best, and the duration comes before the parameters, which the terminal's width may cut.
std::string CompactEndedLine(const RunObserver::Ended& ended, const StudySpec& spec) {
  const TrialRecord& trial = ended.trial;
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.1fs", ended.seconds);
  std::ostringstream line;
  line << "trial " << trial.number << " ";
  if (trial.state == TrialState::kFailed) {
    line << "FAILED  " << seconds << "  " << trial.error;
    return line.str();
  }
  if (trial.state == TrialState::kPruned) {
    line << "PRUNED at epoch " << trial.epochs_done << "/" << spec.budget.epochs;
  } else {
    line << "COMPLETE";
  }
  if (trial.value) line << "  " << spec.objective.metric << "=" << FormatValue(*trial.value);
  line << "  " << seconds << "  " << ShortParams(trial.params);
  return line.str();
}

}  // namespace

std::string FitWidth(const std::string& line, int columns) {
  const size_t limit = static_cast<size_t>(std::max(columns, 8));
  // Byte offsets where each UTF-8 character starts (continuation bytes are 10xxxxxx).
  std::vector<size_t> starts;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= limit) return line;
  return line.substr(0, starts[limit - 3]) + "...";
}

ProgressPrinter::ProgressPrinter(std::ostream* out, const StudySpec& spec, ProgressView view)
    : out_(out), spec_(spec), view_(std::move(view)) {
  started_ = Now();
  last_status_ = started_;
  last_draw_ = started_ - std::chrono::hours(1);  // the first Flush draws the block
}

Clock::time_point ProgressPrinter::Now() const { return view_.now ? view_.now() : Clock::now(); }

int ProgressPrinter::Columns() const {
  const int columns = view_.columns ? view_.columns() : 80;
  return columns > 0 ? columns : 80;
}

void ProgressPrinter::Queue(std::string line, bool fit) {
  if (out_ != nullptr) unprinted_.push_back({std::move(line), fit});
}

void ProgressPrinter::NoteBest(const TrialRecord* best) {
  if (best == nullptr || !best->value) return;
  pending_.best_number = best->number;
  pending_.best_value = *best->value;
}

void ProgressPrinter::Note(const std::string& line) { Queue(line, false); }

void ProgressPrinter::StudyOpened(const Opened& opened) {
  pending_.complete = opened.complete;
  pending_.pruned = opened.pruned;
  pending_.failed = opened.failed;
  pending_.ended = opened.complete + opened.pruned + opened.failed;
  pending_.planned = opened.planned;
  NoteBest(opened.best);
  changed_ = true;
}

void ProgressPrinter::TrialStarted(const TrialRecord& trial) {
  pending_.running[trial.number] = Running{trial.worker, 0, std::nullopt};
  changed_ = true;
}

void ProgressPrinter::EpochRecorded(const TrialRecord& trial, int epoch, const MetricMap& metrics,
                                    bool pruned) {
  Running& running = pending_.running[trial.number];
  if (running.worker.empty()) running.worker = trial.worker;
  running.epoch = epoch;
  const auto objective = metrics.find(spec_.objective.metric);
  if (objective != metrics.end()) running.value = objective->second;
  changed_ = true;
  if (out_ == nullptr || !view_.verbose) return;
  std::ostringstream line;
  line << "           trial " << trial.number << " epoch " << epoch << "/" << spec_.budget.epochs;
  for (const auto& [name, value] : metrics) line << "  " << name << "=" << FormatValue(value);
  if (pruned) line << "  -> pruned";
  Queue(line.str(), true);
}

void ProgressPrinter::TrialEnded(const Ended& ended) {
  const TrialRecord& trial = ended.trial;
  pending_.running.erase(trial.number);
  pending_.ended = ended.position;
  pending_.planned = ended.planned;
  ++pending_.ended_this_run;
  pending_.complete += trial.state == TrialState::kComplete;
  pending_.pruned += trial.state == TrialState::kPruned;
  pending_.failed += trial.state == TrialState::kFailed;
  NoteBest(ended.best);
  changed_ = true;
  if (out_ != nullptr) {
    Queue(view_.terminal ? CompactEndedLine(ended, spec_) : EndedLine(ended, spec_), true);
  }
}

void ProgressPrinter::TrialStale(const TrialRecord& trial, bool retried) {
  pending_.running.erase(trial.number);
  if (!retried) {  // it has ended for good
    ++pending_.ended;
    ++pending_.ended_this_run;
    ++pending_.failed;
  }
  changed_ = true;
  Queue("           trial " + std::to_string(trial.number) + " is STALE; " +
            (retried ? "it will be retried" : "no retries left"),
        false);
}

void ProgressPrinter::TrialRequeued(const TrialRecord& trial) {
  pending_.running.erase(trial.number);
  changed_ = true;
}

void ProgressPrinter::Drop() {
  unprinted_.clear();
  pending_ = shown_;
  changed_ = false;
}

void ProgressPrinter::NoteNow(const std::string& line) {
  if (out_ == nullptr) {
    Log(LogLevel::kWarn, line);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  EraseBlock();
  *out_ << line << '\n';
  if (view_.terminal && !finished_) DrawBlock(Now());
  out_->flush();
}

void ProgressPrinter::Flush() {
  if (changed_) {
    std::lock_guard<std::mutex> lock(mutex_);
    shown_ = pending_;
    changed_ = false;
    dirty_ = true;
  }
  if (out_ == nullptr) return;
  const Clock::time_point now = Now();
  if (view_.terminal) {
    FlushTerminal(now);
  } else {
    FlushPlain(now);
  }
}

void ProgressPrinter::FlushPlain(Clock::time_point now) {
  if (finished_) return;
  for (const Line& line : unprinted_) *out_ << line.text << '\n';
  const bool lines = !unprinted_.empty();
  unprinted_.clear();
  // A status line every status_every, and at each tenth of a run of 20 trials or more.
  const int64_t tenth = shown_.planned >= 20 ? shown_.ended * 10 / shown_.planned : 0;
  const bool new_tenth = tenth > last_tenth_ && shown_.ended < shown_.planned;
  if (tenth > last_tenth_) last_tenth_ = tenth;
  if (new_tenth || now - last_status_ >= view_.status_every) {
    const auto [trials, times] = StatusAt(now);
    *out_ << "status: " << trials << "; " << times << '\n';
    last_status_ = now;
  } else if (!lines) {
    return;
  }
  out_->flush();
}

void ProgressPrinter::FlushTerminal(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  const bool lines = !unprinted_.empty();
  const auto since = now - last_draw_;
  if (!lines && !(dirty_ && since >= view_.redraw_every) && since < view_.clock_every) return;
  EraseBlock();
  const int columns = Columns() - 1;  // the last column would wrap some terminals at once
  // Notes are written whole (they may wrap); trial and epoch lines fit one line.
  for (const Line& line : unprinted_) {
    *out_ << (line.fit ? FitWidth(line.text, columns) : line.text) << '\n';
  }
  unprinted_.clear();
  DrawBlock(now);
  out_->flush();
}

void ProgressPrinter::EraseBlock() {
  if (!view_.terminal) return;
  for (; drawn_lines_ > 0; --drawn_lines_) *out_ << kUpAndClear;
  *out_ << '\r';
}

void ProgressPrinter::DrawBlock(Clock::time_point now) {
  const int columns = Columns() - 1;
  const std::vector<std::string> lines = BlockLines(now);
  for (const std::string& line : lines) *out_ << FitWidth(line, columns) << '\n';
  drawn_lines_ = static_cast<int>(lines.size());
  last_draw_ = now;
  dirty_ = false;
}

std::vector<std::string> ProgressPrinter::BlockLines(Clock::time_point now) const {
  const auto [trials, times] = StatusAt(now);
  std::vector<std::string> lines{trials, times};
  // A block taller than the terminal could not be taken away in place: 12 trials at most.
  constexpr size_t kMostRunningLines = 12;
  for (const auto& [number, running] : shown_.running) {
    if (lines.size() > kMostRunningLines + 1) {
      lines.push_back("  ... and " + std::to_string(shown_.running.size() - kMostRunningLines) +
                      " more running");
      break;
    }
    std::ostringstream line;
    line << "  trial " << number << "  " << (running.worker.empty() ? "?" : running.worker)
         << "  epoch " << running.epoch << "/" << spec_.budget.epochs;
    if (running.value) line << "  " << spec_.objective.metric << "=" << FormatValue(*running.value);
    lines.push_back(line.str());
  }
  return lines;
}

std::string ProgressPrinter::StatusLine() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto [trials, times] = StatusAt(Now());
  return trials + "; " + times;
}

std::pair<std::string, std::string> ProgressPrinter::StatusAt(Clock::time_point now) const {
  const Board& b = shown_;
  const int64_t running = static_cast<int64_t>(b.running.size());
  const int64_t queued = std::max<int64_t>(0, b.planned - b.ended - running);
  std::ostringstream trials;
  trials << b.ended << "/" << b.planned << " ended (" << b.complete << " complete, " << b.pruned
         << " pruned, " << b.failed << " failed), " << running << " running, " << queued
         << " queued";
  std::ostringstream times;
  if (b.best_number) {
    times << "best " << FormatValue(b.best_value) << " (trial " << *b.best_number << "); ";
  }
  const double elapsed = SecondsBetween(started_, now);
  times << ShortDuration(elapsed) << " elapsed";
  if (b.ended_this_run > 0 && b.ended < b.planned) {
    double left =
        elapsed / static_cast<double>(b.ended_this_run) * static_cast<double>(b.planned - b.ended);
    if (spec_.budget.time_s > 0)
      left = std::min(left, std::max(0.0, spec_.budget.time_s - elapsed));
    times << ", about " << ShortDuration(left) << " left";
  }
  return {trials.str(), times.str()};
}

void ProgressPrinter::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (out_ == nullptr || finished_) return;
  if (view_.terminal) {
    EraseBlock();
    out_->flush();
  }
  finished_ = true;
}

void ProgressPrinter::Interject(const std::function<void()>& write) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool block = out_ != nullptr && view_.terminal && !finished_ && drawn_lines_ > 0;
  if (block) {
    EraseBlock();
    out_->flush();
  }
  write();
  if (block) {
    DrawBlock(Now());
    out_->flush();
  }
}

}  // namespace ensweep
