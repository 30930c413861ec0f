// Error types shared by every ensweep library.
//
// UserError is bad input from a user (a study file, a command-line value, a data folder): the
// message names the file, key or line and what was expected, and the command exits with status 2.
// StoreError is the store failing under a run (disk full, I/O error, read-only, locked, removed):
// the message says what happened to which file in a user's words; the command exits with status 1.
// Anything else that escapes is an internal failure (exit status 1).
#pragma once

#include <stdexcept>
#include <string>

namespace ensweep {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

class StoreError : public std::runtime_error {
 public:
  enum class Kind {
    kFull,      // the disk (or quota) holding the store is full
    kIo,        // an I/O error reading or writing it
    kReadOnly,  // it (or its folder or file system) cannot be written
    kLocked,    // another process held its lock for longer than this one waited
    kMoved,     // the file at its path was removed, replaced or truncated while it was open
    kOther,     // anything else SQLite reported (damaged file, out of memory, ...)
  };
  StoreError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Exit statuses of the `ensweep` command, as documented in `ensweep --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace ensweep
