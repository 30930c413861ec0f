#include "ensemble/submission.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "ensemble/blend.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// One scratch folder for the whole process, removed at exit.
fs::path Dir() {
  static const fs::path dir = test::FreshDir("ensweep_submission_test", "scratch");
  return dir;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Matrix OneHot(const std::vector<int>& classes) {
  Matrix m;
  m.rows = static_cast<int64_t>(classes.size());
  m.cols = 18;
  m.values.assign(classes.size() * 18, 0.0f);
  for (size_t r = 0; r < classes.size(); ++r) m.values[r * 18 + classes[r]] = 1.0f;
  return m;
}

}  // namespace

TEST_CASE("a submission keeps info.csv's columns and row order and fills ans",
          "[ensemble][submission]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "info.csv") << "ImageID,ans\nb.jpg,0\na.jpg,0\nc.png,0\n";
  WriteSubmission((dir / "info.csv").string(), OneHot({17, 0, 6}),
                  (dir / "out" / "sub.csv").string());
  CHECK(Read(dir / "out" / "sub.csv") == "ImageID,ans\nb.jpg,17\na.jpg,0\nc.png,6\n");
}

TEST_CASE("a submission with the wrong number of rows is refused", "[ensemble][submission]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "info.csv") << "ImageID,ans\nb.jpg,0\n";
  CHECK_THROWS_AS(
      WriteSubmission((dir / "info.csv").string(), OneHot({1, 2}), (dir / "x.csv").string()),
      UserError);
}

TEST_CASE("scoring matches hand-computed accuracy and macro F1", "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "labels.csv") << "ImageID,ans\na,0\nb,0\nc,1\nd,1\n";
  std::ofstream(dir / "sub.csv") << "ImageID,ans\nd,1\nc,0\nb,0\na,0\n";
  const SubmissionScore s =
      ScoreSubmission((dir / "sub.csv").string(), (dir / "labels.csv").string());
  CHECK(s.rows == 4);
  CHECK(s.accuracy == Approx(0.75));
  // class 0: TP 2, FP 1, FN 0 -> 0.8; class 1: TP 1, FN 1 -> 2/3; 16 absent classes count 0.
  CHECK(s.macro_f1 == Approx((0.8 + 2.0 / 3.0) / 18.0));
}

TEST_CASE("scoring names a missing image and a bad class", "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "labels.csv") << "ImageID,ans\na,0\nz,1\n";
  std::ofstream(dir / "sub.csv") << "ImageID,ans\na,0\n";
  CHECK_THROWS_WITH(ScoreSubmission((dir / "sub.csv").string(), (dir / "labels.csv").string()),
                    Catch::Contains("no prediction for ImageID z"));
  std::ofstream(dir / "bad.csv") << "ImageID,ans\na,18\nz,1\n";
  CHECK_THROWS_WITH(ScoreSubmission((dir / "bad.csv").string(), (dir / "labels.csv").string()),
                    Catch::Contains("bad.csv:2"));
}

TEST_CASE("scoring counts submission rows that have no label", "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "labels.csv") << "ImageID,ans\na,0\nb,1\n";
  std::ofstream(dir / "sub.csv") << "ImageID,ans\nx,3\na,0\nb,1\ny,4\n";
  const SubmissionScore s =
      ScoreSubmission((dir / "sub.csv").string(), (dir / "labels.csv").string());
  CHECK(s.rows == 2);
  CHECK(s.unlabelled == 2);
  CHECK(s.accuracy == Approx(1.0));
  std::ofstream(dir / "named_labels.csv") << "path,label\ncat/1.jpg,cat\n";
  std::ofstream(dir / "named.csv") << "path,label\ncat/1.jpg,cat\ndog/9.jpg,dog\n";
  const SubmissionScore named =
      ScoreSubmission((dir / "named.csv").string(), (dir / "named_labels.csv").string());
  CHECK(named.rows == 1);
  CHECK(named.unlabelled == 1);
}

TEST_CASE("a weighted average blends probabilities row by row", "[ensemble][blend]") {
  Matrix a = OneHot({0, 1});
  Matrix b = OneHot({0, 2});
  const Matrix avg = WeightedAverage({&a, &b}, {3.0, 1.0});
  CHECK(avg.at(0, 0) == Approx(1.0));
  CHECK(avg.at(1, 1) == Approx(0.75));
  CHECK(avg.at(1, 2) == Approx(0.25));
  CHECK_THROWS(WeightedAverage({&a, &b}, {0.0, 0.0}));
  Matrix c = OneHot({0});
  CHECK_THROWS(WeightedAverage({&a, &c}, {1.0, 1.0}));
}

TEST_CASE("scoring predictions in memory equals scoring the submission written from them",
          "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "info.csv") << "ImageID,ans\nb,0\na,0\nc,0\n";
  std::ofstream(dir / "labels.csv") << "ImageID,ans\na,0\nb,17\nc,5\n";
  const Matrix probs = OneHot({17, 0, 6});
  WriteSubmission((dir / "info.csv").string(), probs, (dir / "from_probs.csv").string());
  const SubmissionScore written =
      ScoreSubmission((dir / "from_probs.csv").string(), (dir / "labels.csv").string());
  const SubmissionScore direct =
      ScorePredictions((dir / "info.csv").string(), probs, (dir / "labels.csv").string());
  CHECK(direct.rows == 3);
  CHECK(direct.accuracy == Approx(2.0 / 3.0));
  CHECK(direct.accuracy == Approx(written.accuracy));
  CHECK(direct.macro_f1 == Approx(written.macro_f1));
  CHECK_THROWS_AS(
      ScorePredictions((dir / "info.csv").string(), OneHot({1}), (dir / "labels.csv").string()),
      UserError);
}
