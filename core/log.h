// Timestamped log lines on standard error, for the coordinator and workers.
//
// The level comes from the ENSWEEP_LOG environment variable (debug, info, warn, error; default
// info). Thread-safe: each line is written with one call.
#pragma once

#include <sstream>
#include <string>

namespace ensweep {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, const std::string& text);
// Prefix that names this process in every line ("coordinator", "worker 3").
void SetLogName(const std::string& name);

template <typename... Parts>
void Log(LogLevel level, const Parts&... parts) {
  if (!LogEnabled(level)) return;
  std::ostringstream out;
  (out << ... << parts);
  LogLine(level, out.str());
}

}  // namespace ensweep
