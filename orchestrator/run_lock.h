// One coordinator per study at a time. A second `ensweep run` of a study that is running would
// mark the first run's trials STALE and train them again into the same artifact folders, so the
// coordinator holds an exclusive lock for the whole run. A study is its name in its store,
// whichever study file names it and whichever path reaches the store.
//
// Where the lock lives, and why: on the store file itself, as an open file description lock
// (fcntl F_OFD_SETLK, a write lock) on one byte at an offset derived from the study's name.
//   - A lock on the file is found through every path to it: the path itself, a symbolic link, a
//     hard link in another folder, a bind mount. A lock file named after a path is not: a hard
//     link in another folder names another lock file.
//   - The byte lies far beyond anything SQLite locks (its locks sit at 1 GiB, ours at 2^62 and
//     up), so it never conflicts with SQLite's own POSIX locks; and, being an open file
//     description lock, it is not released when SQLite closes one of its descriptors of the file
//     (a POSIX record lock would be). Different studies lock different bytes.
//   - It is taken before SQLite opens the store: a second run that reaches the store by another
//     name (a hard link) must not open it at all, because SQLite keeps its write-ahead log beside
//     the name a file is opened by, and two logs for one store can corrupt it.
//   - The operating system releases it when the process ends, however it ends, so a crashed run
//     never leaves a stale lock behind.
// Who holds the lock (pid, host, and how to reach the run) is written to a file beside the store,
// `.<store file name>.<study>.lock` (beside its real path, so a symbolic link to the store finds
// it), for the second run's message. It is opened without following links: a symbolic link
// planted at its name is refused, never followed. A second run through a hard link in another
// folder does not see that file; the holder also locks a byte that encodes its pid, so its message
// still names the holding process.
#pragma once

#include <string>

namespace ensweep {

class RunLock {
 public:
  // Takes the lock of `study` in the store at `storage`, creating the store (an empty ensweep
  // store) and its folder if missing. Throws UserError naming the holder when another process (or
  // another RunLock) holds it, or when the lock file's name is a symbolic link. Take it before
  // opening the store (Store::OpenForWriting) and release it after closing it: closing this
  // lock's descriptor of the store drops the POSIX locks SQLite holds on it in this process.
  RunLock(const std::string& storage, const std::string& study);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Records how to reach this run, shown to a second run: "coordinator at HOST:PORT" (a TCP run,
  // which extra workers can join) or anything else (e.g. an MPI run, which they cannot).
  void Describe(const std::string& how_to_reach);

  // The byte of the store file that holds `study`'s lock.
  static int64_t LockOffset(const std::string& study);

 private:
  void Write(const std::string& line);  // replaces the lock file's line

  std::string path_;    // the lock file, holding the description
  std::string holder_;  // "pid P on HOST"
  int store_fd_ = -1;   // the store file, carrying the lock
  int fd_ = -1;         // the lock file
};

}  // namespace ensweep
