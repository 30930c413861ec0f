#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <mutex>
#include <string_view>

#include "core/log_writer.h"

namespace ensweep {
namespace {

LogLevel ThresholdFromEnvironment() {
  const char* value = std::getenv("ENSWEEP_LOG");
  if (value == nullptr) return LogLevel::kInfo;
  const std::string_view v(value);
  if (v == "debug") return LogLevel::kDebug;
  if (v == "warn") return LogLevel::kWarn;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::mutex& LogMutex() {
  static std::mutex mutex;
  return mutex;
}

std::string& LogName() {
  static std::string name = "ensweep";
  return name;
}

std::function<void(const std::string&)>& LogWriter() {
  static std::function<void(const std::string&)> write;
  return write;
}

}  // namespace

void SetLogWriter(std::function<void(const std::string& line)> write) {
  std::lock_guard<std::mutex> lock(LogMutex());
  LogWriter() = std::move(write);
}

bool LogEnabled(LogLevel level) {
  static const LogLevel threshold = ThresholdFromEnvironment();
  return level >= threshold;
}

void SetLogName(const std::string& name) {
  std::lock_guard<std::mutex> lock(LogMutex());
  LogName() = name;
}

void LogLine(LogLevel level, const std::string& text) {
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &local);
  std::lock_guard<std::mutex> lock(LogMutex());
  const std::string line = std::string("[") + stamp + " " + LogName() + " " +
                           kNames[static_cast<int>(level)] + "] " + text + "\n";
  if (LogWriter()) {
    LogWriter()(line);
    return;
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace ensweep
