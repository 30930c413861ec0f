#include "core/data_edits.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/listing.h"
#include "core/study.h"
#include "tests/core/listing_util.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// Mask data with two persons of 7 photos each (empty files: the listing decodes nothing).
fs::path MaskData(const std::string& name) {
  const fs::path train = test::FreshDir("ensweep_edits", name) / "train";
  fs::create_directories(train);
  std::ofstream csv(train / "train.csv");
  csv << "id,gender,race,age,path\n000001,male,Asian,25,000001_male_Asian_25\n"
      << "000002,female,Asian,45,000002_female_Asian_45\n";
  for (const char* person : {"000001_male_Asian_25", "000002_female_Asian_45"}) {
    for (const char* stem :
         {"mask1", "mask2", "mask3", "mask4", "mask5", "incorrect_mask", "normal"}) {
      test::Touch(train / "images" / person / (std::string(stem) + ".jpg"));
    }
  }
  return train;
}

fs::path WriteEdits(const fs::path& dir, const std::string& name, const std::string& rows) {
  const fs::path path = dir / name;
  std::ofstream(path) << "level,person,image,field,given,suggested,score\n" << rows;
  return path;
}

}  // namespace

TEST_CASE("exclude drops every photo of a person row and the one photo of an image row",
          "[core][edits]") {
  const fs::path train = MaskData("exclude");
  DataSpec data = test::DataSpecOf("mask", train);
  data.exclude = WriteEdits(train.parent_path(), "x.csv",
                            "person,000001_male_Asian_25,,gender,male,female,0.9\n"
                            "image,000002_female_Asian_45,images/000002_female_Asian_45/normal.jpg,"
                            "mask,not_worn,worn,0.7\n")
                     .string();
  const DataListing listing = ListData(data);
  REQUIRE(listing.train.size() == 6);
  for (const LabeledImage& image : listing.train) {
    CHECK(image.person == "000002_female_Asian_45");
    CHECK(fs::path(image.path).stem() != "normal");
  }
}

TEST_CASE("relabel sets a person's field on all their photos and keeps the other fields",
          "[core][edits]") {
  const fs::path train = MaskData("relabel");
  DataSpec data = test::DataSpecOf("mask", train);
  data.relabel =
      WriteEdits(train.parent_path(), "r.csv", "person,000002_female_Asian_45,,age,30-59,60+,0.8\n")
          .string();
  const DataListing listing = ListData(data);
  REQUIRE(listing.train.size() == 14);
  for (const LabeledImage& image : listing.train) {
    if (image.person != "000002_female_Asian_45") continue;
    CHECK(AgeBandOf(image.label) == 2);
    CHECK(GenderOf(image.label) == 1);
    CHECK(MaskOf(image.label) == MaskStateFromStem(fs::path(image.path).stem().string()));
  }
}

TEST_CASE(
    "an edit naming a person not in the data, or a stale given value, is refused with its "
    "file and line",
    "[core][edits]") {
  const fs::path train = MaskData("refused");
  DataSpec data = test::DataSpecOf("mask", train);
  data.exclude = WriteEdits(train.parent_path(), "x.csv",
                            "person,000009_male_Asian_25,,gender,male,female,1\n")
                     .string();
  CHECK_THAT(test::ListingError(data),
             Catch::Contains("x.csv:2") &&
                 Catch::Contains("'000009_male_Asian_25' is not in the training"));
  data.exclude.clear();
  data.relabel = WriteEdits(train.parent_path(), "r.csv",
                            "person,000001_male_Asian_25,,gender,male,female,1\n"
                            "person,000001_male_Asian_25,,gender,male,female,1\n")
                     .string();
  CHECK_THAT(test::ListingError(data),
             Catch::Contains("r.csv:3") && Catch::Contains("given gender 'male'"));
}

TEST_CASE("a malformed edits file is reported under its study key with the file's line",
          "[core][edits]") {
  const fs::path train = MaskData("study");
  const fs::path edits =
      WriteEdits(train.parent_path(), "bad.csv", "person,000001_male_Asian_25,,colour,a,b,1\n");
  const std::string study = "study: s\ndata:\n  train: " + train.string() +
                            "\n  exclude: bad.csv\nspace: {backbone: custom_cnn}\n";
  std::string error;
  try {
    LoadStudyText(study, "s.yaml", train.parent_path().string());
  } catch (const UserError& e) {
    error = e.what();
  }
  CHECK_THAT(error, Catch::Contains("data.exclude") && Catch::Contains("bad.csv:2") &&
                        Catch::Contains("field 'colour'"));
}

TEST_CASE("the study records its edit files, so a stored study lists the same data",
          "[core][edits]") {
  const fs::path train = MaskData("record");
  WriteEdits(train.parent_path(), "x.csv", "person,000001_male_Asian_25,,gender,male,female,1\n");
  const std::string study = "study: s\ndata:\n  train: " + train.string() +
                            "\n  exclude: x.csv\nspace: {backbone: custom_cnn}\n";
  const StudySpec spec = LoadStudyText(study, "s.yaml", train.parent_path().string());
  const StudySpec stored = StudyFromJson(spec.ToJson());
  CHECK(stored.data.exclude == (train.parent_path() / "x.csv").string());
  CHECK(stored.data.relabel.empty());
  CHECK(ListData(stored.data).train.size() == 7);
}
