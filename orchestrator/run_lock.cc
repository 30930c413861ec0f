#include "orchestrator/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "orchestrator/worker_loop.h"  // HostName

namespace ensweep {

RunLock::RunLock(const std::string& storage, const std::string& study) {
  const std::filesystem::path store(storage);
  const std::filesystem::path folder = store.parent_path();
  std::error_code error;
  if (!folder.empty()) std::filesystem::create_directories(folder, error);
  if (error) {
    throw UserError(storage + ": cannot create the store's folder " + folder.string() + ": " +
                    error.message());
  }
  // Named after the store's real path, so a symbolic link to the store finds the same lock.
  const std::filesystem::path real = std::filesystem::weakly_canonical(store, error);
  const std::filesystem::path named = error ? store : real;
  path_ =
      (named.parent_path() / ("." + named.filename().string() + "." + study + ".lock")).string();
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw UserError("cannot open the run lock " + path_ + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::ifstream in(path_);
    std::string holder;
    std::getline(in, holder);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) {
      throw UserError("cannot lock " + path_ + ": " + std::strerror(err));
    }
    // Extra workers can join a TCP run at its address; an MPI run takes none.
    const auto at = holder.find("coordinator at ");
    const std::string join = at == std::string::npos
                                 ? ""
                                 : ", or add workers to it with `ensweep worker --connect " +
                                       holder.substr(at + std::strlen("coordinator at ")) + "`";
    throw UserError("study '" + study + "' in " + storage + " is already being run" +
                    (holder.empty() ? std::string() : " (" + holder + ")") +
                    "; wait for that run to end" + join + " (lock: " + path_ + ")");
  }
  holder_ = "pid " + std::to_string(::getpid()) + " on " + HostName();
  Write(holder_);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; the file stays, unlocked
}

void RunLock::Describe(const std::string& how_to_reach) { Write(holder_ + ", " + how_to_reach); }

void RunLock::Write(const std::string& line) {
  const std::string text = line + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // The description is a courtesy for a second run's message; the lock itself holds.
  }
}

}  // namespace ensweep
