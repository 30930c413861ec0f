#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string_view>

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

}  // namespace

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
  std::fprintf(stderr, "[%s %s %s] %s\n", stamp, LogName().c_str(), kNames[static_cast<int>(level)],
               text.c_str());
  std::fflush(stderr);
}

}  // namespace ensweep
