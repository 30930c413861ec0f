// How read-only commands find a study: a study file (whose storage and name are used), or an
// explicit --db FILE with --study NAME (the name may be omitted when the store holds one study).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/store.h"

namespace ensweep {

struct StudyLocator {
  std::string study_file;
  std::string db;
  std::string name;

  // Adds the positional STUDY and the --db/--study options to `app`.
  void AddOptions(CLI::App* app);

  struct Found {
    std::unique_ptr<Store> store;
    StudyRecord study;
  };
  // Opens the store read-only (or for writing, for commands that record results) and finds the
  // study. Throws UserError with what is missing.
  Found Open(bool writable = false) const;
};

}  // namespace ensweep
