#include "orchestrator/progress.h"

#include <cstdio>
#include <ostream>
#include <sstream>

#include "core/log.h"

namespace ensweep {
namespace {

std::string FormatValue(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4f", value);
  return text;
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

}  // namespace

ProgressPrinter::ProgressPrinter(std::ostream* out, const StudySpec& spec)
    : out_(out), spec_(spec) {}

void ProgressPrinter::Queue(std::string line) {
  if (out_ != nullptr) unprinted_.push_back(std::move(line));
}

void ProgressPrinter::Flush() {
  if (out_ == nullptr || unprinted_.empty()) return;
  for (const std::string& line : unprinted_) *out_ << line << '\n';
  out_->flush();
  unprinted_.clear();
}

void ProgressPrinter::NoteNow(const std::string& line) {
  if (out_ != nullptr) {
    *out_ << line << std::endl;
  } else {
    Log(LogLevel::kWarn, line);
  }
}

void ProgressPrinter::Note(const std::string& line) { Queue(line); }

void ProgressPrinter::EpochRecorded(const TrialRecord& trial, int epoch, const MetricMap& metrics,
                                    bool pruned) {
  if (out_ == nullptr) return;
  std::ostringstream line;
  line << "           trial " << trial.number << " epoch " << epoch << "/" << spec_.budget.epochs;
  for (const auto& [name, value] : metrics) line << "  " << name << "=" << FormatValue(value);
  if (pruned) line << "  -> pruned";
  Queue(line.str());
}

void ProgressPrinter::TrialEnded(const Ended& ended) {
  if (out_ == nullptr) return;
  const TrialRecord& trial = ended.trial;
  std::ostringstream line;
  char head[64];
  std::snprintf(head, sizeof(head), "[%4lld/%lld] trial %lld ",
                static_cast<long long>(ended.position), static_cast<long long>(ended.planned),
                static_cast<long long>(trial.number));
  line << head;
  const std::string& metric = spec_.objective.metric;
  if (trial.state == TrialState::kFailed) {
    line << "FAILED    " << trial.error;
  } else if (trial.state == TrialState::kPruned) {
    line << "PRUNED    at epoch " << trial.epochs_done << "/" << spec_.budget.epochs;
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
  Queue(line.str());
}

void ProgressPrinter::TrialStale(const TrialRecord& trial, bool retried) {
  Queue("           trial " + std::to_string(trial.number) + " is STALE; " +
        (retried ? "it will be retried" : "no retries left"));
}

}  // namespace ensweep
