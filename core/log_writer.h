// Where the log lines of core/log.h go, for a process that draws on its terminal.
#pragma once

#include <functional>
#include <string>

namespace ensweep {

// While set, each log line (with its prefix and newline) is handed to `write`, which is to put
// it on standard error itself (e.g. around a live terminal view: orchestrator/progress.h); null:
// standard error directly. `write` runs under the log's lock and must not log.
void SetLogWriter(std::function<void(const std::string& line)> write);

}  // namespace ensweep
