#include "core/listing.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "core/split.h"
#include "core/study.h"
#include "tests/core/listing_util.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

fs::path FreshDir(const std::string& name) { return test::FreshDir("ensweep_listing", name); }

using test::Touch;

}  // namespace

TEST_CASE("imagefolder: classes sorted by name, non-images skipped, images in sub-folders kept",
          "[core][listing]") {
  const fs::path root = FreshDir("imagefolder") / "train";
  Touch(root / "zebra" / "b.jpg");
  Touch(root / "zebra" / "a.PNG");
  Touch(root / "ant" / "1.jpeg");
  Touch(root / "ant" / "more" / "2.jpg");  // recursive, as torchvision's ImageFolder
  Touch(root / "Bee" / "x.png");
  // Not images: other extensions, macOS metadata, hidden files and folders, files at the root.
  Touch(root / "ant" / "notes.txt");
  Touch(root / "ant" / "._1.jpeg");
  Touch(root / "zebra" / ".hidden.jpg");
  Touch(root / ".git" / "c.jpg");
  Touch(root / "readme.jpg");
  const fs::path eval = root.parent_path() / "eval";
  Touch(eval / "b" / "2.jpg");
  Touch(eval / "a.png");
  Touch(eval / "b" / "1.jpeg");
  Touch(eval / "._a.png");
  Touch(eval / "skip.gif");

  const DataListing listing = ListData(test::DataSpecOf("imagefolder", root, eval));
  CHECK(listing.class_names == std::vector<std::string>{"Bee", "ant", "zebra"});
  CHECK(listing.num_classes() == 3);
  REQUIRE(listing.train.size() == 5);
  std::vector<std::pair<std::string, int>> got;
  std::set<std::string> groups;
  for (const LabeledImage& image : listing.train) {
    got.emplace_back(fs::path(image.path).lexically_relative(root).generic_string(), image.label);
    groups.insert(image.person);
  }
  CHECK(got == std::vector<std::pair<std::string, int>>{{"Bee/x.png", 0},
                                                        {"ant/1.jpeg", 1},
                                                        {"ant/more/2.jpg", 1},
                                                        {"zebra/a.PNG", 2},
                                                        {"zebra/b.jpg", 2}});
  CHECK(groups.size() == 5);  // every image is its own group

  // Eval: recursive, sorted by relative path, which is also the image id.
  REQUIRE(listing.eval.size() == 3);
  CHECK(listing.eval[0].image_id == "a.png");
  CHECK(listing.eval[1].image_id == "b/1.jpeg");
  CHECK(listing.eval[2].image_id == "b/2.jpg");
  CHECK(fs::path(listing.eval[2].path) == eval / "b" / "2.jpg");
  CHECK(ListClassNames(test::DataSpecOf("imagefolder", root)) == listing.class_names);
}

TEST_CASE("imagefolder: a class folder without images and a root without classes are named",
          "[core][listing]") {
  const fs::path root = FreshDir("imagefolder_bad") / "train";
  Touch(root / "cat" / "1.jpg");
  Touch(root / "dog" / "notes.txt");
  CHECK_THAT(test::ListingError(test::DataSpecOf("imagefolder", root)),
             Catch::Contains((root / "dog").string()) && Catch::Contains("has no images"));
  const fs::path empty = FreshDir("imagefolder_empty");
  Touch(empty / "1.jpg");
  CHECK_THAT(test::ListingError(test::DataSpecOf("imagefolder", empty)),
             Catch::Contains("no class folders"));
}

TEST_CASE("csv: labels are class names sorted, paths relative to the CSV, file order kept",
          "[core][listing]") {
  const fs::path dir = FreshDir("csv");
  Touch(dir / "img" / "a.jpg");
  Touch(dir / "img" / "b.png");
  Touch(dir / "img" / "c.jpg");
  Touch(dir / "img" / "d.jpg");
  const fs::path abs = FreshDir("csv_abs") / "e.jpg";
  Touch(abs);
  std::ofstream(dir / "train.csv") << "path,label,group\n"
                                      "img/c.jpg,dog,p1\n"
                                      "img/a.jpg,cat,p1\n"
                                      "img/b.png,bird,p2\r\n"
                                      "\n"
                                      "img/d.jpg,cat,p3\n"
                                   << abs.string() << ",dog,p3\n";
  std::ofstream(dir / "eval.csv") << "id,path\n1,img/d.jpg\n2,img/a.jpg\n";

  const DataListing listing =
      ListData(test::DataSpecOf("csv", dir / "train.csv", dir / "eval.csv"));
  CHECK(listing.class_names == std::vector<std::string>{"bird", "cat", "dog"});
  REQUIRE(listing.train.size() == 5);
  CHECK(fs::path(listing.train[0].path) == dir / "img" / "c.jpg");
  CHECK(listing.train[0].label == 2);
  CHECK(listing.train[1].label == 1);
  CHECK(listing.train[2].label == 0);
  CHECK(listing.train[4].path == abs.string());
  CHECK(listing.train[0].person == "p1");
  CHECK(listing.train[1].person == "p1");
  CHECK(listing.train[3].person == "p3");
  REQUIRE(listing.eval.size() == 2);
  CHECK(listing.eval[0].image_id == "img/d.jpg");
  CHECK(fs::path(listing.eval[0].path) == dir / "img" / "d.jpg");
  CHECK(ListClassNames(test::DataSpecOf("csv", dir / "train.csv")) == listing.class_names);

  // Without a group column every image is its own group.
  std::ofstream(dir / "nogroup.csv") << "label,path\ncat,img/a.jpg\ncat,img/b.png\n";
  const DataListing ungrouped = ListData(test::DataSpecOf("csv", dir / "nogroup.csv"));
  REQUIRE(ungrouped.train.size() == 2);
  CHECK(ungrouped.train[0].person != ungrouped.train[1].person);
  CHECK(ungrouped.class_names == std::vector<std::string>{"cat"});
}

TEST_CASE("csv: a bad line is named by file and line with what was expected", "[core][listing]") {
  const fs::path dir = FreshDir("csv_bad");
  Touch(dir / "a.jpg");
  Touch(dir / "b.jpg");
  const std::string file = (dir / "t.csv").string();
  const auto error = [&](const std::string& text) {
    std::ofstream(file, std::ios::trunc) << text;
    return test::ListingError(test::DataSpecOf("csv", file));
  };
  CHECK_THAT(error("path,class\na.jpg,cat\n"),
             Catch::Contains(file + ":1:") && Catch::Contains("'label'"));
  CHECK_THAT(error("label\ncat\n"), Catch::Contains(file + ":1:") && Catch::Contains("'path'"));
  CHECK_THAT(error("path,label\na.jpg,cat\nb.jpg,\n"), Catch::Contains(file + ":3: empty label"));
  CHECK_THAT(error("path,label\na.jpg,cat\nmissing.jpg,dog\n"),
             Catch::Contains(file + ":3: image ") && Catch::Contains("does not exist"));
  CHECK_THAT(error("path,label\na.jpg,cat\nnotes.txt,dog\n"),
             Catch::Contains(file + ":3:") && Catch::Contains("not an image"));
  CHECK_THAT(error("path,label\n,cat\n"), Catch::Contains(file + ":2: empty path"));
  CHECK_THAT(error("path,label,group\na.jpg,cat,p\nb.jpg,dog,\n"),
             Catch::Contains(file + ":3: empty group"));
  CHECK_THAT(error("path,label\na.jpg,cat\nb.jpg,dog\na.jpg,dog\n"),
             Catch::Contains(file + ":4:") && Catch::Contains("already listed at line 2"));
  CHECK_THAT(error("path,label\na.jpg,cat,extra\n"), Catch::Contains(file + ":2: expected 2"));
  CHECK_THAT(error("path,label\n"), Catch::Contains("no rows"));
  // A folder where the CSV file was expected.
  CHECK_THAT(test::ListingError(test::DataSpecOf("csv", dir)),
             Catch::Contains("expects a CSV file"));
}

TEST_CASE("csv: group splits and folds never share a group", "[core][listing][split]") {
  const fs::path dir = FreshDir("csv_groups");
  std::ofstream csv(dir / "train.csv");
  csv << "path,label,group\n";
  // 30 groups of 4 images, 3 classes; the class is constant within a group.
  for (int g = 0; g < 30; ++g) {
    for (int i = 0; i < 4; ++i) {
      const std::string name = "g" + std::to_string(g) + "_" + std::to_string(i) + ".jpg";
      Touch(dir / "img" / name);
      csv << "img/" << name << ","
          << "class" << g % 3 << ",group" << g << "\n";
    }
  }
  csv.close();
  const DataListing listing = ListData(test::DataSpecOf("csv", dir / "train.csv"));
  REQUIRE(listing.train.size() == 120);
  std::vector<std::string> groups;
  std::vector<int> strata;
  for (const LabeledImage& image : listing.train) {
    groups.push_back(image.person);
    strata.push_back(image.label);
  }
  const auto check = [&](const SplitIndices& split) {
    std::set<std::string> train, val;
    for (int64_t i : split.train) train.insert(groups[static_cast<size_t>(i)]);
    for (int64_t i : split.val) val.insert(groups[static_cast<size_t>(i)]);
    for (const std::string& g : val) CHECK(train.count(g) == 0);
    CHECK(split.train.size() + split.val.size() == 120);
    return val.size();
  };
  CHECK(check(GroupSplit(groups, strata, 0.2, 5)) == 6);
  std::map<std::string, int> validated;
  for (const SplitIndices& fold : GroupKFold(groups, strata, 3, 5)) {
    check(fold);
    for (int64_t i : fold.val) ++validated[groups[static_cast<size_t>(i)]];
  }
  CHECK(validated.size() == 30);
  for (const auto& [group, times] : validated) CHECK(times == 4);  // 4 images, one fold
}

TEST_CASE("data paths: a run needs the format's folder or file", "[core][listing]") {
  const fs::path dir = FreshDir("paths");
  Touch(dir / "train.csv");
  fs::create_directories(dir / "folder");
  CHECK_NOTHROW(CheckDataPaths(test::DataSpecOf("csv", dir / "train.csv"), "s.yaml"));
  CHECK_NOTHROW(
      CheckDataPaths(test::DataSpecOf("imagefolder", dir / "folder", dir / "folder"), "s.yaml"));
  CHECK_THROWS_WITH(CheckDataPaths(test::DataSpecOf("csv", dir / "folder"), "s.yaml"),
                    Catch::StartsWith("s.yaml: 'data.train'") && Catch::Contains("is a folder"));
  CHECK_THROWS_WITH(
      CheckDataPaths(test::DataSpecOf("csv", dir / "train.csv", dir / "none.csv"), "s.yaml"),
      Catch::StartsWith("s.yaml: 'data.eval'") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(CheckDataPaths(test::DataSpecOf("imagefolder", dir / "train.csv"), "s.yaml"),
                    Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(CheckDataPaths(test::DataSpecOf("mask", dir / "folder"), "s.yaml"),
                    Catch::Contains("has no train.csv"));
}

TEST_CASE("study: data.train of the wrong kind for the format is named with its line",
          "[core][listing][study]") {
  const fs::path dir = FreshDir("study");
  Touch(dir / "labels.csv");
  fs::create_directories(dir / "images");
  const auto load = [&](const std::string& data) {
    const fs::path file = dir / "s.yaml";
    std::ofstream(file, std::ios::trunc) << "study: s\n" << data << "\nspace: {lr: 0.1}\n";
    return LoadStudyFile(file.string());
  };
  CHECK(load("data: {format: csv, train: labels.csv, eval: labels.csv}").data.format ==
        DataFormat::kCsv);
  CHECK(load("data: {format: imagefolder, train: images}").data.train == (dir / "images").string());
  // Not there yet is fine here: the run reports it.
  CHECK_NOTHROW(load("data: {format: csv, train: later.csv}"));
  CHECK_THROWS_WITH(load("data:\n  format: csv\n  train: images"),
                    Catch::Contains("s.yaml:4: 'data.train'") && Catch::Contains("is a folder") &&
                        Catch::Contains("expects a CSV file"));
  CHECK_THROWS_WITH(load("data:\n  format: imagefolder\n  train: labels.csv"),
                    Catch::Contains("s.yaml:4: 'data.train'") && Catch::Contains("is a file"));
  CHECK_THROWS_WITH(load("data:\n  format: csv\n  train: labels.csv\n  eval: images"),
                    Catch::Contains("s.yaml:5: 'data.eval'") && Catch::Contains("path column"));
}
