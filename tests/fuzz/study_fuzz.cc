// The study loader on arbitrary bytes: LoadStudyText must either return a spec or throw
// UserError. Anything else escaping, a crash, a hang or a leak is a bug. A spec it returns must
// survive the round trip through its normalised JSON (as sent to workers and stored), and its
// pruner must build.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/study.h"
#include "search/pruner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ensweep::StudySpec spec;
  std::vector<std::string> warnings;  // kept off standard error
  try {
    spec = ensweep::LoadStudyText(text, "fuzz.yaml", "/nonexistent/fuzz", &warnings);
  } catch (const ensweep::UserError&) {
    return 0;
  }
  // A study the loader accepted: everything below must succeed.
  const ensweep::Json normalised = spec.ToJson();
  const ensweep::StudySpec again = ensweep::StudyFromJson(normalised);
  if (again.ToJson() != normalised) std::abort();
  ensweep::MakePruner(spec);
  return 0;
}
