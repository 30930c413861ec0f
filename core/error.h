// Error types shared by every ensweep library.
//
// UserError is bad input from a user (a study file, a command-line value, a data folder): the
// message names the file, key or line and what was expected, and the command exits with status 2.
// Anything else that escapes is an internal failure (exit status 1).
#pragma once

#include <stdexcept>
#include <string>

namespace ensweep {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

// Exit statuses of the `ensweep` command, as documented in `ensweep --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace ensweep
