#include "orchestrator/run_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/rng.h"
#include "core/store.h"
#include "orchestrator/worker_loop.h"  // HostName

namespace ensweep {
namespace {

// Pids are below 2^22 on Linux: the holder's pid is the offset of a second locked byte within a
// range this long after the study's lock byte.
constexpr int64_t kPidRange = int64_t{1} << 22;

// fcntl(F_OFD_SETLK) of `length` bytes: F_WRLCK to take, F_UNLCK to release.
int LockBytes(int fd, short type, int64_t offset, int64_t length) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = static_cast<off_t>(offset);
  lock.l_len = static_cast<off_t>(length);
  lock.l_pid = 0;  // required for open file description locks
  return ::fcntl(fd, F_OFD_SETLK, &lock);
}

// The pid of the process holding the study's lock, from its pid byte; 0 if not found.
pid_t HolderPid(int fd, int64_t offset) {
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = static_cast<off_t>(offset + 1);
  probe.l_len = static_cast<off_t>(kPidRange);
  if (::fcntl(fd, F_OFD_GETLK, &probe) != 0 || probe.l_type == F_UNLCK) return 0;
  return static_cast<pid_t>(probe.l_start - (offset + 1));
}

}  // namespace

int64_t RunLock::LockOffset(const std::string& study) {
  // 2^62 plus 60 bits of the name's hash: far above SQLite's lock bytes (at 2^30), and with
  // room for the pid range below the largest offset a lock may end at.
  return static_cast<int64_t>((uint64_t{1} << 62) +
                              (StableHash(study) & ((uint64_t{1} << 60) - 1)));
}

RunLock::RunLock(const std::string& storage, const std::string& study) {
  namespace fs = std::filesystem;
  std::error_code error;
  // The lock is on the store file, so the store must exist; created as an empty ensweep store
  // (SQLite creates it; a run that races to create it too is serialised by SQLite).
  if (!fs::exists(storage, error)) Store::OpenForWriting(storage).reset();
  store_fd_ = ::open(storage.c_str(), O_RDWR | O_CLOEXEC);
  if (store_fd_ < 0) {
    throw UserError("cannot open the store " + storage + " to lock study '" + study +
                    "': " + std::strerror(errno));
  }
  // The description file, named after the store's real path, so a symbolic link to the store
  // finds the same one.
  const fs::path store(storage);
  const fs::path real = fs::weakly_canonical(store, error);
  const fs::path named = error ? store : real;
  path_ =
      (named.parent_path() / ("." + named.filename().string() + "." + study + ".lock")).string();
  const int64_t offset = LockOffset(study);
  if (LockBytes(store_fd_, F_WRLCK, offset, 1) != 0) {
    const int err = errno;
    const pid_t pid = HolderPid(store_fd_, offset);
    ::close(store_fd_);
    store_fd_ = -1;
    if (err != EAGAIN && err != EACCES) {
      throw UserError("cannot lock study '" + study + "' in " + storage + ": " +
                      std::strerror(err));
    }
    std::string holder;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      char text[512] = {};
      const ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
      ::close(fd);
      holder.assign(text, n > 0 ? static_cast<size_t>(n) : 0);
      holder = holder.substr(0, holder.find('\n'));
    }
    // The file beside this path describes another run (or none) when the store was reached by
    // another name: the pid byte says who holds the lock.
    if (pid > 0 && holder.rfind("pid " + std::to_string(pid) + " ", 0) != 0) {
      holder = "pid " + std::to_string(pid) + ", reaching the store by another name";
    }
    // Extra workers can join a TCP run at its address; an MPI run takes none.
    const auto at = holder.find("coordinator at ");
    const std::string join = at == std::string::npos
                                 ? ""
                                 : ", or add workers to it with `ensweep worker --connect " +
                                       holder.substr(at + std::strlen("coordinator at ")) + "`";
    throw UserError("study '" + study + "' in " + storage + " is already being run" +
                    (holder.empty() ? std::string() : " (" + holder + ")") +
                    "; wait for that run to end" + join);
  }
  const pid_t self = ::getpid();
  if (self < kPidRange) LockBytes(store_fd_, F_WRLCK, offset + 1 + self, 1);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    ::close(store_fd_);
    store_fd_ = -1;
    if (err == ELOOP) {
      throw UserError("the run lock file " + path_ +
                      " is a symbolic link; ensweep does not follow it (it would overwrite its "
                      "target): remove it and run again");
    }
    throw UserError("cannot open the run lock file " + path_ + ": " + std::strerror(err));
  }
  holder_ = "pid " + std::to_string(self) + " on " + HostName();
  Write(holder_);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // the file stays, for the next holder to overwrite
  // Closing releases the locks (they belong to this descriptor's open file description).
  if (store_fd_ >= 0) ::close(store_fd_);
}

void RunLock::Describe(const std::string& how_to_reach) { Write(holder_ + ", " + how_to_reach); }

void RunLock::Write(const std::string& line) {
  const std::string text = line + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // The description is a courtesy for a second run's message; the lock itself holds.
  }
}

}  // namespace ensweep
