#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "audit/audit_report.h"
#include "audit/confident_learning.h"
#include "audit/data_profile.h"
#include "audit/label_audit.h"
#include "core/csv.h"
#include "core/data_edits.h"
#include "core/mask_layout.h"
#include "core/rng.h"
#include "datagen/image_encode.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// `n` examples of `k` classes; the true class is i % k, the model puts `confidence` (jittered by a
// seeded Rng) on it and spreads the rest; labels equal the truth except at `flipped`, whose label
// is the next class.
struct Toy {
  std::vector<double> probs;
  std::vector<int> labels;
  std::vector<int> truth;
};

Toy MakeToy(int n, int k, double confidence, const std::vector<int>& flipped, uint64_t seed) {
  Toy toy;
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const int truth = i % k;
    const double p = confidence + 0.1 * (rng.Uniform() - 0.5);
    for (int j = 0; j < k; ++j) toy.probs.push_back(j == truth ? p : (1 - p) / (k - 1));
    toy.truth.push_back(truth);
    toy.labels.push_back(truth);
  }
  for (const int i : flipped) toy.labels[static_cast<size_t>(i)] = (toy.truth[i] + 1) % k;
  return toy;
}

}  // namespace

TEST_CASE("confident learning flags exactly the flipped labels and suggests their true class",
          "[audit]") {
  const std::vector<int> flipped = {3, 10, 17, 40};
  const Toy toy = MakeToy(60, 3, 0.8, flipped, 7);
  const ConfidentLearning cl = FindLabelIssues(toy.probs, toy.labels, 3);
  std::vector<int64_t> issues = cl.issues;
  std::sort(issues.begin(), issues.end());
  CHECK(issues == std::vector<int64_t>(flipped.begin(), flipped.end()));
  for (const int i : flipped) CHECK(cl.confident[static_cast<size_t>(i)] == toy.truth[i]);
  int64_t off_diagonal = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) off_diagonal += i == j ? 0 : cl.joint[i][j];
  }
  CHECK(off_diagonal == static_cast<int64_t>(flipped.size()));
}

TEST_CASE("a class threshold is the mean self-confidence of the examples given that label",
          "[audit]") {
  const std::vector<double> probs = {0.9, 0.1, 0.7, 0.3, 0.2, 0.8, 0.4, 0.6};
  const ConfidentLearning cl = FindLabelIssues(probs, {0, 0, 1, 1}, 2);
  CHECK(cl.thresholds[0] == Approx(0.8));
  CHECK(cl.thresholds[1] == Approx(0.7));
  // Example 3 (label 1, p = 0.4 / 0.6) is below class 1's threshold and class 0's: not counted.
  CHECK(cl.confident[3] == -1);
  CHECK(cl.issues.empty());
}

TEST_CASE("issues are ranked by self-confidence, the least confident in the given label first",
          "[audit]") {
  // Examples 0..3 labelled 0, example 4 labelled 1; examples 1 and 2 look like class 1, example 2
  // more strongly. Thresholds: 0.55 for class 0, 0.6 for class 1.
  const std::vector<double> probs = {0.9, 0.1, 0.3, 0.7, 0.05, 0.95, 0.95, 0.05, 0.4, 0.6};
  const ConfidentLearning cl = FindLabelIssues(probs, {0, 0, 0, 0, 1}, 2);
  CHECK(cl.issues == std::vector<int64_t>{2, 1});
  CHECK(cl.confident[4] == 1);
}

namespace {

// 12 persons of 7 images; the model sees each person's true class with a confidence that varies
// from image to image; person 5 is labelled with the other gender, and one photo of person 2 with
// the wrong mask state; the model is sure of those two persons' true classes.
std::vector<AuditImage> MaskImages(const fs::path& root) {
  std::vector<AuditImage> images;
  Rng rng(11);
  for (int person = 0; person < 12; ++person) {
    const int gender = person % 2, age = person % 3;
    const int given_gender = person == 5 ? 1 - gender : gender;
    const std::string name = "00000" + std::to_string(person);
    for (int k = 0; k < 7; ++k) {
      const int mask = k < 5 ? 0 : k - 4;
      const int given_mask = person == 2 && k == 6 ? 0 : mask;
      AuditImage image;
      image.path = (root / "images" / name / ("p" + std::to_string(k) + ".jpg")).string();
      image.person = name;
      image.label = EncodeClass(given_mask, given_gender, age);
      image.probs.assign(kNumClasses, 0.01);
      const bool sure = person == 2 || person == 5;
      image.probs[static_cast<size_t>(EncodeClass(mask, gender, age))] +=
          sure ? 0.95 : 0.3 + 0.6 * rng.Uniform();
      double sum = 0;
      for (const double p : image.probs) sum += p;
      for (double& p : image.probs) p /= sum;
      images.push_back(image);
    }
  }
  return images;
}

}  // namespace

TEST_CASE("the mask audit judges gender per person and the mask state per image", "[audit]") {
  const fs::path root = test::FreshDir("ensweep_audit", "fields") / "train";
  DataSpec data;
  data.train = root.string();
  std::vector<std::string> classes;
  for (int c = 0; c < kNumClasses; ++c) classes.push_back(std::to_string(c));
  const AuditResult result =
      AuditLabels(MaskImages(root), data, classes, true, AuditMethod::kConfidentLearning);
  REQUIRE(result.suspects.size() == 2);
  std::map<std::string, LabelEdit> by_field;
  for (const Suspect& s : result.suspects) by_field[s.edit.field] = s.edit;
  REQUIRE(by_field.count("gender") == 1);
  CHECK(by_field["gender"].person_level);
  CHECK(by_field["gender"].person == "000005");
  CHECK(by_field["gender"].given == "male");
  CHECK(by_field["gender"].suggested == "female");
  REQUIRE(by_field.count("mask") == 1);
  CHECK_FALSE(by_field["mask"].person_level);
  CHECK(by_field["mask"].image == "images/000002/p6.jpg");
  CHECK(by_field["mask"].given == "worn");
  CHECK(by_field["mask"].suggested == "not_worn");
  CHECK(result.fields.size() == 3);
  CHECK(result.fields[1].examples == 12);  // gender: persons
  CHECK(result.fields[0].examples == 84);  // mask: images
}

TEST_CASE(
    "the audit reports the models' accuracy on each field and audits only the fields asked for",
    "[audit]") {
  const fs::path root = test::FreshDir("ensweep_audit", "only") / "train";
  DataSpec data;
  data.train = root.string();
  std::vector<std::string> classes;
  for (int c = 0; c < kNumClasses; ++c) classes.push_back(std::to_string(c));
  const std::vector<AuditImage> images = MaskImages(root);
  const AuditResult all = AuditLabels(images, data, classes, true, AuditMethod::kConfidentLearning);
  REQUIRE(all.fields.size() == 3);
  // The models predict every true value; the given values they miss are the two wrong labels.
  CHECK(all.fields[0].accuracy == Approx(83.0 / 84));  // mask, per image
  CHECK(all.fields[1].accuracy == Approx(11.0 / 12));  // gender, per person
  CHECK(all.fields[2].accuracy == Approx(1.0));        // age

  const AuditResult gender =
      AuditLabels(images, data, classes, true, AuditMethod::kConfidentLearning, {"gender"});
  REQUIRE(gender.fields.size() == 1);
  CHECK(gender.fields[0].field == "gender");
  REQUIRE(gender.suspects.size() == 1);
  CHECK(gender.suspects[0].edit.person == "000005");
  CHECK_THROWS_AS(
      AuditLabels(images, data, classes, true, AuditMethod::kConfidentLearning, {"label"}),
      std::invalid_argument);
}

TEST_CASE("the baseline lists every example, lowest given-value probability first", "[audit]") {
  const fs::path root = test::FreshDir("ensweep_audit", "baseline") / "train";
  DataSpec data;
  data.train = root.string();
  std::vector<std::string> classes;
  for (int c = 0; c < kNumClasses; ++c) classes.push_back(std::to_string(c));
  const AuditResult result =
      AuditLabels(MaskImages(root), data, classes, true, AuditMethod::kGivenProbability);
  CHECK(result.suspects.size() == 84 + 12 + 12);
  for (size_t i = 1; i < result.suspects.size(); ++i) {
    CHECK(result.suspects[i - 1].edit.score >= result.suspects[i].edit.score);
  }
  // The two wrong labels lead.
  std::set<std::string> first_two = {
      result.suspects[0].edit.field + " " + result.suspects[0].edit.person,
      result.suspects[1].edit.field + " " + result.suspects[1].edit.person};
  CHECK(first_two == std::set<std::string>{"gender 000005", "mask 000002"});
}

TEST_CASE(
    "the report writes suspects.csv that data.exclude reads back and a page with the images "
    "inlined",
    "[audit]") {
  const fs::path dir = test::FreshDir("ensweep_audit", "report");
  const std::string jpeg = std::string("\xff\xd8\xff\xe0 fake jpeg bytes", 21);
  std::ofstream(dir / "a.jpg", std::ios::binary) << jpeg;
  AuditResult result;
  Suspect s;
  s.edit = LabelEdit{0, true, "p<1>", "", "gender", "male", "female", 0.875};
  s.images = {(dir / "a.jpg").string()};
  s.values = {"male", "female"};
  s.predicted = {0.25, 0.75};
  result.suspects.push_back(s);
  WriteAuditReport((dir / "out").string(), result, AuditPageInfo{"t", {}, 10});
  const std::vector<LabelEdit> back = ReadLabelEdits((dir / "out" / "suspects.csv").string());
  REQUIRE(back.size() == 1);
  CHECK(back[0].person == "p<1>");
  CHECK(back[0].suggested == "female");
  CHECK(back[0].score == Approx(0.875));
  std::ifstream page(dir / "out" / "index.html");
  std::stringstream html;
  html << page.rdbuf();
  CHECK_THAT(html.str(), Catch::Contains("data:image/jpeg;base64," + Base64(jpeg)) &&
                             Catch::Contains("p&lt;1&gt;"));
  CHECK(Base64("Man") == "TWFu");
  CHECK(Base64("Ma") == "TWE=");
  CHECK(Base64("M") == "TQ==");
}

namespace {

// A 40x32 RGB picture: a gradient whose direction depends on `kind`.
std::vector<uint8_t> Picture(int kind) {
  std::vector<uint8_t> rgb;
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 40; ++x) {
      const int v = kind == 0 ? x * 6 : (kind == 1 ? 255 - x * 6 : ((x / 5 + y / 4) % 2) * 255);
      for (int c = 0; c < 3; ++c) rgb.push_back(static_cast<uint8_t>(v));
    }
  }
  return rgb;
}

}  // namespace

TEST_CASE("the data profile finds exact and near duplicates across the sets and unreadable files",
          "[audit]") {
  const fs::path dir = test::FreshDir("ensweep_audit", "profile");
  WritePng((dir / "a.png").string(), Picture(0).data(), 40, 32);
  fs::copy_file(dir / "a.png", dir / "a_copy.png");
  WriteJpeg((dir / "a.jpg").string(), Picture(0).data(), 40, 32, 90);  // same picture, re-encoded
  WritePng((dir / "b.png").string(), Picture(1).data(), 40, 32);
  WritePng((dir / "c.png").string(), Picture(2).data(), 40, 32);
  std::ofstream(dir / "broken.jpg") << "not an image";
  const std::vector<LabeledImage> train = {{(dir / "a.png").string(), "p1", 0},
                                           {(dir / "b.png").string(), "p2", 4},
                                           {(dir / "broken.jpg").string(), "p3", 17}};
  const std::vector<EvalImage> eval = {{"x", (dir / "a_copy.png").string()},
                                       {"y", (dir / "a.jpg").string()},
                                       {"z", (dir / "c.png").string()}};
  std::vector<std::string> classes;
  for (int c = 0; c < kNumClasses; ++c) classes.push_back(std::to_string(c));
  const DataProfile p = ProfileData(train, eval, classes, true, std::vector<int>{0, 0, 5}, 2);
  int exact = 0, near = 0;
  for (const DuplicatePair& d : p.duplicates) {
    const std::string a = fs::path(p.images[d.a].path).filename().string();
    const std::string b = fs::path(p.images[d.b].path).filename().string();
    INFO(a << " " << b << " exact " << d.exact << " distance " << d.distance);
    if (d.exact) {
      ++exact;
      CHECK(a + b == "a.pnga_copy.png");
    } else {
      ++near;
      CHECK((b == "a.jpg" && (a == "a.png" || a == "a_copy.png")));
    }
  }
  CHECK(exact == 1);
  CHECK(near == 2);
  CHECK_FALSE(p.images[2].readable);
  CHECK(p.images[1].width == 40);
  CHECK(p.images[4].format == "jpeg");
  CHECK(p.counts.at("train").at("gender").at("male") == 1);
  CHECK(p.counts.at("train").at("gender").at("female") == 2);
  CHECK(p.counts.at("eval").at("class").at("5") == 1);
}

TEST_CASE("the data profile lists classes named by numbers in numeric order, 2 before 10",
          "[audit]") {
  const fs::path dir = test::FreshDir("ensweep_audit", "profile_order");
  std::vector<LabeledImage> train;
  for (const int label : {10, 2, 1, 10}) {
    const fs::path path = dir / ("i" + std::to_string(train.size()) + ".jpg");
    std::ofstream(path) << "not an image";  // counted from the label; unreadable is fine here
    train.push_back({path.string(), "p", label});
  }
  std::vector<std::string> classes;
  for (int c = 0; c < kNumClasses; ++c) classes.push_back(std::to_string(c));
  const DataProfile p = ProfileData(train, {}, classes, false, std::nullopt, 2);
  std::vector<std::string> order;
  for (const auto& [value, count] : p.counts.at("train").at("class")) order.push_back(value);
  CHECK(order == std::vector<std::string>{"1", "2", "10"});
  CHECK(p.counts.at("train").at("class").at("10") == 2);

  WriteDataProfile((dir / "out").string(), p, "t");
  const CsvTable counts = ReadCsv((dir / "out" / "counts.csv").string());
  std::vector<std::string> written;
  for (const auto& row : counts.rows) written.push_back(row[counts.Column("value")]);
  CHECK(written == order);
}

TEST_CASE("value names order whole numbers by value, before other names in text order", "[audit]") {
  const ValueNameLess less;
  CHECK(less("2", "10"));
  CHECK_FALSE(less("10", "2"));
  CHECK(less("9", "cat"));
  CHECK_FALSE(less("cat", "9"));
  CHECK(less("ant", "bee"));
  CHECK(less("60+", "age"));  // not a whole number: text order
  CHECK_FALSE(less("7", "7"));
}
