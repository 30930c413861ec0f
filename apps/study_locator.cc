#include "apps/study_locator.h"

#include <filesystem>

#include "core/error.h"
#include "core/study.h"

namespace ensweep {

void StudyLocator::AddOptions(CLI::App* app) {
  app->add_option("study", study_file, "Study file (YAML or JSON); its storage and name are used");
  app->add_option("--db", db, "SQLite store to read instead of the study file's storage");
  app->add_option("--study", name, "Study name inside --db (optional if it holds one study)");
}

StudyLocator::Found StudyLocator::Open(bool writable) const {
  std::string path = db;
  std::string wanted = name;
  if (!study_file.empty()) {
    const StudySpec spec = LoadStudyFile(study_file);
    if (path.empty()) path = spec.storage;
    if (wanted.empty()) wanted = spec.name;
  }
  if (path.empty()) throw UserError("name a study file, or a store with --db FILE");
  if (!std::filesystem::exists(path)) {
    throw UserError(path + ": no store yet" +
                    (study_file.empty()
                         ? std::string()
                         : "; start the study with `ensweep run " + study_file + "`"));
  }
  Found found;
  found.store = writable ? Store::OpenForWriting(path) : Store::OpenReadOnly(path);
  if (wanted.empty()) {
    const auto studies = found.store->ListStudies();
    if (studies.size() != 1) {
      throw UserError(path + ": holds " + std::to_string(studies.size()) +
                      " studies; choose one with --study NAME (see `ensweep studies --db " + path +
                      "`)");
    }
    found.study = studies.front();
    return found;
  }
  auto study = found.store->FindStudy(wanted);
  if (!study) throw UserError(path + ": no study named '" + wanted + "'");
  found.study = *study;
  return found;
}

}  // namespace ensweep
