// Helpers shared by the tests of the data listing (core/listing.h) and of the data edits it
// applies (core/data_edits.h).
#pragma once

#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/listing.h"
#include "core/study.h"

namespace ensweep::test {

// A data block of `format` (an option name: mask, imagefolder, csv) on `train` and `eval`.
inline DataSpec DataSpecOf(const std::string& format, const std::filesystem::path& train,
                           const std::filesystem::path& eval = {}) {
  DataSpec data;
  data.format = *ParseOption<DataFormat>(format);
  data.train = train.string();
  data.eval = eval.string();
  return data;
}

// The message of the UserError that ListData(data) throws; empty when it lists without one.
inline std::string ListingError(const DataSpec& data) {
  try {
    ListData(data);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace ensweep::test
