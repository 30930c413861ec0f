#include "core/artifact_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace ensweep {
namespace {

namespace fs = std::filesystem;

// The lock file's descriptor, created if missing (read-only if it cannot be written); -1 if it
// can be neither created nor opened.
int OpenLockFile(const std::string& artifacts_dir) {
  const std::string path = (fs::path(artifacts_dir) / ArtifactLock::kFileName).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

// flock, retried when a signal interrupts the wait.
int Flock(int fd, int operation) {
  int rc;
  do {
    rc = ::flock(fd, operation);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

}  // namespace

ArtifactLock ArtifactLock::Shared(const std::string& artifacts_dir) {
  std::error_code error;
  if (!fs::is_directory(artifacts_dir, error)) return ArtifactLock(-1);
  const int fd = OpenLockFile(artifacts_dir);
  if (fd < 0) return ArtifactLock(-1);
  if (Flock(fd, LOCK_SH) != 0) {
    ::close(fd);
    return ArtifactLock(-1);
  }
  return ArtifactLock(fd);
}

std::optional<ArtifactLock> ArtifactLock::TryExclusive(const std::string& artifacts_dir) {
  const int fd = OpenLockFile(artifacts_dir);
  if (fd < 0) {
    throw std::runtime_error("cannot open the lock file " +
                             (fs::path(artifacts_dir) / kFileName).string() + ": " +
                             std::strerror(errno));
  }
  if (Flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int cause = errno;
    ::close(fd);
    if (cause == EWOULDBLOCK) return std::nullopt;
    throw std::runtime_error("cannot lock " + (fs::path(artifacts_dir) / kFileName).string() +
                             ": " + std::strerror(cause));
  }
  return ArtifactLock(fd);
}

ArtifactLock::ArtifactLock(ArtifactLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

ArtifactLock& ArtifactLock::operator=(ArtifactLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ArtifactLock::~ArtifactLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace ensweep
