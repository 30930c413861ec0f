#include "ensemble/submission.h"

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
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
  // class 0: TP 2, FP 1, FN 0 -> 0.8; class 1: TP 1, FN 1 -> 2/3; the 16 classes that occur in
  // neither are left out, as scikit-learn's f1_score(average="macro") leaves them out.
  CHECK(s.macro_f1 == Approx((0.8 + 2.0 / 3.0) / 2.0));
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

TEST_CASE("a perfect submission scores 1 when the labels hold only some of the 18 classes",
          "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ostringstream labels, sub;
  labels << "ImageID,ans\n";
  sub << "ImageID,ans\n";
  for (int i = 0; i < 36; ++i) {
    const int cls = i % 12;  // classes 0..11 only
    labels << "img" << i << "," << cls << "\n";
    sub << "img" << i << "," << cls << "\n";
  }
  std::ofstream(dir / "twelve_labels.csv") << labels.str();
  std::ofstream(dir / "twelve_sub.csv") << sub.str();
  const SubmissionScore s =
      ScoreSubmission((dir / "twelve_sub.csv").string(), (dir / "twelve_labels.csv").string());
  CHECK(s.rows == 36);
  CHECK(s.accuracy == Approx(1.0));
  CHECK(s.macro_f1 == Approx(1.0));
}

TEST_CASE("a class predicted but absent from the labels counts in the macro F1 with F1 0",
          "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "absent_labels.csv") << "ImageID,ans\na,0\nb,0\nc,1\n";
  std::ofstream(dir / "absent_sub.csv") << "ImageID,ans\na,0\nb,0\nc,5\n";
  const SubmissionScore s =
      ScoreSubmission((dir / "absent_sub.csv").string(), (dir / "absent_labels.csv").string());
  // class 0: 1; class 1: 0 (never predicted); class 5: 0 (never true): (1 + 0 + 0) / 3.
  CHECK(s.macro_f1 == Approx(1.0 / 3.0));
}

TEST_CASE("a labels file with no rows or an image labelled twice is refused with file:line",
          "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "some_sub.csv") << "ImageID,ans\na,0\nb,1\n";
  std::ofstream(dir / "header_only.csv") << "ImageID,ans\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "some_sub.csv").string(), (dir / "header_only.csv").string()),
      Catch::Contains("header_only.csv: no labelled rows"));
  std::ofstream(dir / "named_header_only.csv") << "path,label\n";
  std::ofstream(dir / "named_sub.csv") << "path,label\na.jpg,cat\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "named_sub.csv").string(), (dir / "named_header_only.csv").string()),
      Catch::Contains("named_header_only.csv: no labelled rows"));

  std::ofstream(dir / "twice_labels.csv") << "ImageID,ans\na,0\nb,1\na,0\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "some_sub.csv").string(), (dir / "twice_labels.csv").string()),
      Catch::Contains("twice_labels.csv:4: ImageID a is already labelled at line 2"));
  std::ofstream(dir / "named_twice.csv") << "path,label\na.jpg,cat\na.jpg,dog\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "named_sub.csv").string(), (dir / "named_twice.csv").string()),
      Catch::Contains("named_twice.csv:3: path a.jpg is already labelled at line 2"));
}

TEST_CASE("a submission row repeated is refused with both lines", "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ofstream(dir / "pair_labels.csv") << "ImageID,ans\na,0\nb,1\n";
  std::ofstream(dir / "repeat_sub.csv") << "ImageID,ans\na,0\nb,1\na,0\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "repeat_sub.csv").string(), (dir / "pair_labels.csv").string()),
      Catch::Contains("repeat_sub.csv:4: ImageID a appears twice (first at line 2)"));
  // Predictions written from an info.csv that lists an image twice are refused the same way.
  std::ofstream(dir / "repeat_info.csv") << "ImageID,ans\na,0\nb,0\na,0\n";
  CHECK_THROWS_WITH(ScorePredictions((dir / "repeat_info.csv").string(), OneHot({0, 1, 0}),
                                     (dir / "pair_labels.csv").string()),
                    Catch::Contains("repeat_info.csv:4: ImageID a appears twice"));
}

TEST_CASE("labelled images missing from a submission are all counted and the first named",
          "[ensemble][score]") {
  const fs::path dir = Dir();
  std::ostringstream labels;
  labels << "ImageID,ans\n";
  for (int i = 0; i < 9; ++i) labels << "img" << i << "," << i << "\n";
  std::ofstream(dir / "nine_labels.csv") << labels.str();
  std::ofstream(dir / "two_sub.csv") << "ImageID,ans\nimg0,0\nimg1,1\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "two_sub.csv").string(), (dir / "nine_labels.csv").string()),
      Catch::Contains("no prediction for 7 labelled images: ImageID img2 (labelled at ") &&
          Catch::Contains("nine_labels.csv:4)") && Catch::Contains("img6") &&
          Catch::Contains("and 2 more"));
}

namespace {

// Scikit-learn's macro F1 of each (labels, submission) pair, from
// tests/ensemble/sklearn_macro_f1.py run by the system Python; empty, with the reason in why_not,
// if scikit-learn (or that Python) is missing.
std::vector<double> SklearnMacroF1(const std::vector<std::pair<fs::path, fs::path>>& pairs,
                                   std::string* why_not) {
  std::string command =
      "/usr/bin/python3 " ENSWEEP_SOURCE_DIR "/tests/ensemble/sklearn_macro_f1.py";
  for (const auto& [labels, sub] : pairs) command += " " + labels.string() + " " + sub.string();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int raw = pclose(pipe);
  const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::vector<double> scores;
  // 3: the script could not import scikit-learn; 127: no /usr/bin/python3. Anything else is a
  // failure of the script.
  if (status == 3 || status == 127) {
    *why_not = output;
    return scores;
  }
  INFO(output);
  REQUIRE(status == 0);
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) scores.push_back(std::stod(line));
  return scores;
}

}  // namespace

TEST_CASE("macro F1 equals scikit-learn's f1_score(average='macro') on seeded random submissions",
          "[ensemble][score][sklearn]") {
  const fs::path dir = Dir() / "sklearn";
  fs::create_directories(dir);
  Rng rng(20240611);
  std::vector<std::pair<fs::path, fs::path>> pairs;
  std::vector<double> ours;
  for (int c = 0; c < 60; ++c) {
    // Even cases: the competition format (classes 0..17); odd ones: path,label with class names.
    const bool named = c % 2 == 1;
    // The truth uses a random subset of the 18 classes (1 to 18 of them); predictions are right
    // with a random probability, else any of the 18 classes, so some predicted classes are absent
    // from the truth and some true classes are never predicted.
    std::vector<int> truth_classes;
    for (int k = 0; k < 18; ++k) {
      if (rng.Uniform() < 0.6) truth_classes.push_back(k);
    }
    if (truth_classes.empty()) truth_classes.push_back(static_cast<int>(rng.Below(18)));
    const int rows = 1 + static_cast<int>(rng.Below(c < 10 ? 5 : 300));
    const double right = rng.Uniform();
    const auto name = [&](int k) {
      return named ? "class_" + std::to_string(k) : std::to_string(k);
    };
    std::ostringstream labels, sub;
    labels << (named ? "path,label\n" : "ImageID,ans\n");
    sub << (named ? "path,label\n" : "ImageID,ans\n");
    for (int r = 0; r < rows; ++r) {
      const int truth = truth_classes[rng.Below(truth_classes.size())];
      const int guess = rng.Uniform() < right ? truth : static_cast<int>(rng.Below(18));
      labels << "img" << r << "," << name(truth) << "\n";
      sub << "img" << r << "," << name(guess) << "\n";
    }
    const fs::path labels_path = dir / ("labels_" + std::to_string(c) + ".csv");
    const fs::path sub_path = dir / ("sub_" + std::to_string(c) + ".csv");
    std::ofstream(labels_path) << labels.str();
    std::ofstream(sub_path) << sub.str();
    pairs.emplace_back(labels_path, sub_path);
    ours.push_back(ScoreSubmission(sub_path.string(), labels_path.string()).macro_f1);
  }
  std::string why_not;
  const std::vector<double> reference = SklearnMacroF1(pairs, &why_not);
  if (reference.empty()) {
    WARN(
        "SKIPPED: scikit-learn is not available to /usr/bin/python3 (Debian: python3-sklearn, "
        "installed by scripts/setup.sh --test): "
        << why_not);
    return;
  }
  REQUIRE(reference.size() == ours.size());
  for (size_t c = 0; c < ours.size(); ++c) {
    INFO("case " << c << ": " << pairs[c].first << " " << pairs[c].second);
    CHECK(ours[c] == Approx(reference[c]).margin(1e-12));
  }
}
