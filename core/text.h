// Small helpers for the wording of messages, shared by the executable and the coordinator.
#pragma once

#include <string>

namespace ensweep {

// "1 trial", "3 trials": the count and the noun, plural (noun + "s") unless the count is 1.
inline std::string CountOf(long long count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

}  // namespace ensweep
