// One coordinator per study at a time. A second `ensweep run` of a study that is running would
// mark the first run's trials STALE and train them again into the same artifact folders, so the
// coordinator holds an exclusive lock (flock) on `<artifacts>/.run.lock` for the whole run. The
// operating system releases it when the process ends, however it ends, so a crashed run never
// leaves a stale lock behind. The file holds a line saying who holds it (pid, host, and the
// address extra workers connect to), for the second run's message.
#pragma once

#include <string>

namespace ensweep {

class RunLock {
 public:
  // Takes the lock of the study whose artifacts live in `artifacts_dir` (created if missing).
  // Throws UserError naming the holder when another process holds it.
  RunLock(const std::string& artifacts_dir, const std::string& study);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Records how to reach this run ("coordinator at HOST:PORT"), shown to a second run.
  void Describe(const std::string& how_to_reach);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace ensweep
