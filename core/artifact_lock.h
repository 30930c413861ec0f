// Advisory locks on a study's artifact folder, between the one who deletes artifacts (the
// coordinator's checkpoint retention, orchestrator/retention.h) and those who read them
// (`ensweep ensemble`, `ensweep predict`), so that a file is never deleted under a running reader.
//
// The lock is flock(2) on the file `<artifacts>/.ensweep-lock` (created if missing; never
// removed). Readers take it shared and wait for it; the deleter takes it exclusive without
// waiting and, when a reader holds it, postpones its deletions (retention tries again after the
// next trial ends, and at the end of the run). A lock is released when its object is destroyed or
// the process exits, however it exits. Locks are advisory: only code that takes them is kept out.
// On file systems where flock is not shared between machines (some NFS set-ups), readers on
// other machines are not seen; run readers and the coordinator on one machine there, or keep
// every checkpoint (`checkpoints: {keep: all}`).
//
// Usage (a reader):
//   const ArtifactLock lock = ArtifactLock::Shared(spec.artifacts);   // held until scope exit
//   ... read checkpoints and predictions ...
#pragma once

#include <optional>
#include <string>

namespace ensweep {

class ArtifactLock {
 public:
  // The lock file's name inside the artifact folder.
  static constexpr const char* kFileName = ".ensweep-lock";

  // A reader's lock: blocks while a deleter holds the folder. A folder that does not exist has
  // nothing to protect, and one where the lock file can be neither created nor opened (a
  // read-only copy) cannot be written by a deleter either: both give a lock that holds nothing
  // (held() false).
  static ArtifactLock Shared(const std::string& artifacts_dir);
  // The deleter's lock, without waiting: nullopt while any reader holds the folder. Throws
  // std::runtime_error when the lock file cannot be created or opened.
  static std::optional<ArtifactLock> TryExclusive(const std::string& artifacts_dir);

  ArtifactLock(ArtifactLock&& other) noexcept;
  ArtifactLock& operator=(ArtifactLock&& other) noexcept;
  ArtifactLock(const ArtifactLock&) = delete;
  ArtifactLock& operator=(const ArtifactLock&) = delete;
  ~ArtifactLock();

  bool held() const { return fd_ >= 0; }

 private:
  explicit ArtifactLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ensweep
