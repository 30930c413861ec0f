// One coordinator per study at a time. A second `ensweep run` of a study that is running would
// mark the first run's trials STALE and train them again into the same artifact folders, so the
// coordinator holds an exclusive lock (flock) for the whole run on a file beside the store,
// `.<store file name>.<study>.lock`: a study is its name in its store, whichever study file names
// it. The operating system releases the lock when the process ends, however it ends, so a crashed
// run never leaves a stale lock behind. The file says who holds it (pid, host, and how to reach
// the run), for the second run's message.
#pragma once

#include <string>

namespace ensweep {

class RunLock {
 public:
  // Takes the lock of `study` in the store at `storage` (its folder is created if missing).
  // Throws UserError naming the holder when another process holds it.
  RunLock(const std::string& storage, const std::string& study);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Records how to reach this run, shown to a second run: "coordinator at HOST:PORT" (a TCP run,
  // which extra workers can join) or anything else (e.g. an MPI run, which they cannot).
  void Describe(const std::string& how_to_reach);

 private:
  void Write(const std::string& line);  // replaces the file's line

  std::string path_;
  std::string holder_;  // "pid P on HOST"
  int fd_ = -1;
};

}  // namespace ensweep
