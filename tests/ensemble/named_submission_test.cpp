// Submissions and scoring for data formats other than the competition's: path,label files with
// class names.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "ensemble/submission.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

fs::path FreshDir(const std::string& name) {
  return test::FreshDir("ensweep_named_submission", name);
}

using test::Touch;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Matrix Probs(const std::vector<int>& classes, int cols) {
  Matrix m;
  m.rows = static_cast<int64_t>(classes.size());
  m.cols = cols;
  m.values.assign(classes.size() * static_cast<size_t>(cols), 0.1f);
  for (size_t r = 0; r < classes.size(); ++r) m.values[r * cols + classes[r]] = 0.8f;
  return m;
}

}  // namespace

TEST_CASE("an imagefolder study's submission is path,label in eval order with class names",
          "[ensemble][submission]") {
  const fs::path dir = FreshDir("imagefolder");
  Touch(dir / "train" / "dog" / "1.jpg");
  Touch(dir / "train" / "cat" / "1.jpg");
  Touch(dir / "train" / "owl" / "1.jpg");
  Touch(dir / "eval" / "z.jpg");
  Touch(dir / "eval" / "sub" / "a.png");
  Touch(dir / "eval" / "._z.jpg");
  DataSpec data;
  data.format = DataFormat::kImageFolder;
  data.train = (dir / "train").string();
  data.eval = (dir / "eval").string();

  const SubmissionTarget target = SubmissionTargetFor(data);
  CHECK(target.info_csv.empty());
  CHECK(target.class_names == std::vector<std::string>{"cat", "dog", "owl"});
  CHECK(target.image_ids == std::vector<std::string>{"sub/a.png", "z.jpg"});

  WriteSubmission(target, Probs({2, 0}, 3), (dir / "out" / "sub.csv").string());
  CHECK(Read(dir / "out" / "sub.csv") == "path,label\nsub/a.png,owl\nz.jpg,cat\n");
  CHECK_THROWS_WITH(WriteSubmission(target, Probs({1, 0}, 18), (dir / "x.csv").string()),
                    Catch::Contains("18 classes but the data has 3"));
  CHECK_THROWS_WITH(WriteSubmission(target, Probs({1}, 3), (dir / "x.csv").string()),
                    Catch::Contains("2 rows but the predictions have 1"));

  // Scoring: the written submission and the probabilities score the same against path,label.
  std::ofstream(dir / "labels.csv") << "path,label\nz.jpg,dog\nsub/a.png,owl\n";
  const SubmissionScore from_file =
      ScoreSubmission((dir / "out" / "sub.csv").string(), (dir / "labels.csv").string());
  const SubmissionScore from_probs =
      ScorePredictions(target, Probs({2, 0}, 3), (dir / "labels.csv").string());
  CHECK(from_file.rows == 2);
  CHECK(from_file.accuracy == Approx(0.5));
  // Classes seen: cat (predicted, never true) F1 0, dog (true, missed) F1 0, owl F1 1.
  CHECK(from_file.macro_f1 == Approx(1.0 / 3));
  CHECK(from_probs.accuracy == Approx(from_file.accuracy));
  CHECK(from_probs.macro_f1 == Approx(from_file.macro_f1));
}

TEST_CASE("an imagefolder image whose name holds a comma or a quote survives the submission",
          "[ensemble][submission][csv]") {
  const fs::path dir = FreshDir("comma");
  Touch(dir / "train" / "cat" / "1.jpg");
  Touch(dir / "train" / "dog,puppy" / "1.jpg");
  Touch(dir / "eval" / "a,b.jpg");
  Touch(dir / "eval" / "say \"hi\".jpg");
  DataSpec data;
  data.format = DataFormat::kImageFolder;
  data.train = (dir / "train").string();
  data.eval = (dir / "eval").string();

  const SubmissionTarget target = SubmissionTargetFor(data);
  REQUIRE(target.image_ids == std::vector<std::string>{"a,b.jpg", "say \"hi\".jpg"});
  WriteSubmission(target, Probs({1, 0}, 2), (dir / "sub.csv").string());
  CHECK(Read(dir / "sub.csv") ==
        "path,label\n\"a,b.jpg\",\"dog,puppy\"\n\"say \"\"hi\"\".jpg\",cat\n");
  // ensweep reads back what it wrote: the labels file is written the same way.
  std::ofstream(dir / "labels.csv")
      << "path,label\n\"say \"\"hi\"\".jpg\",cat\n\"a,b.jpg\",\"dog,puppy\"\n";
  const SubmissionScore score =
      ScoreSubmission((dir / "sub.csv").string(), (dir / "labels.csv").string());
  CHECK(score.rows == 2);
  CHECK(score.accuracy == Approx(1.0));
}

TEST_CASE("path,label scoring names the missing and repeated rows", "[ensemble][submission]") {
  const fs::path dir = FreshDir("score");
  std::ofstream(dir / "sub.csv") << "path,label\na.jpg,cat\nb.jpg,dog\n";
  std::ofstream(dir / "labels.csv") << "path,label\na.jpg,cat\nc.jpg,dog\n";
  CHECK_THROWS_WITH(
      ScoreSubmission((dir / "sub.csv").string(), (dir / "labels.csv").string()),
      Catch::Contains("no prediction for path c.jpg") && Catch::Contains("labels.csv:3"));
  std::ofstream(dir / "twice.csv") << "path,label\na.jpg,cat\na.jpg,dog\n";
  CHECK_THROWS_WITH(ScoreSubmission((dir / "twice.csv").string(), (dir / "labels.csv").string()),
                    Catch::Contains("twice.csv:3: path a.jpg appears twice"));
  std::ofstream(dir / "good.csv") << "path,label\nc.jpg,dog\na.jpg,cat\n";
  const SubmissionScore s =
      ScoreSubmission((dir / "good.csv").string(), (dir / "labels.csv").string());
  CHECK(s.accuracy == Approx(1.0));
  CHECK(s.macro_f1 == Approx(1.0));
}

TEST_CASE("a csv study's submission uses the eval CSV's paths as ids", "[ensemble][submission]") {
  const fs::path dir = FreshDir("csv");
  Touch(dir / "img" / "1.jpg");
  Touch(dir / "img" / "2.jpg");
  std::ofstream(dir / "train.csv") << "path,label\nimg/1.jpg,b\nimg/2.jpg,a\n";
  std::ofstream(dir / "eval.csv") << "path\nimg/2.jpg\nimg/1.jpg\n";
  DataSpec data;
  data.format = DataFormat::kCsv;
  data.train = (dir / "train.csv").string();
  data.eval = (dir / "eval.csv").string();
  const SubmissionTarget target = SubmissionTargetFor(data);
  WriteSubmission(target, Probs({1, 1}, 2), (dir / "sub.csv").string());
  CHECK(Read(dir / "sub.csv") == "path,label\nimg/2.jpg,b\nimg/1.jpg,b\n");
}
