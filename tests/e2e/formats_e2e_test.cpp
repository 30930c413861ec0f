// End to end on data that is not the competition's: a tiny 3-class imagefolder (generated PNG and
// JPEG images) through `ensweep run`, `ensweep ensemble` and `ensweep score`, and a csv study with
// a bad row.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "core/csv.h"
#include "core/store.h"
#include "datagen/image_encode.h"
#include "e2e_util.h"

namespace fs = std::filesystem;
using namespace ensweep;
using namespace ensweep::testing;

namespace {

// A 24x24 image of class c: a bright band whose orientation is the class (rows, columns,
// diagonal) on a background that varies with i, so classes are learnable but not one colour each.
void WriteClassImage(const fs::path& path, int c, int i) {
  fs::create_directories(path.parent_path());
  const int size = 24;
  std::vector<uint8_t> rgb(size * size * 3);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const bool band =
          c == 0 ? (y / 4) % 2 == 0 : (c == 1 ? (x / 4) % 2 == 0 : ((x + y) / 4) % 2 == 0);
      for (int k = 0; k < 3; ++k) {
        const int base = (i * 37 + k * 60) % 120;
        rgb[(static_cast<size_t>(y) * size + x) * 3 + k] =
            static_cast<uint8_t>(band ? 255 - base / 2 : base);
      }
    }
  }
  if (path.extension() == ".png") {
    WritePng(path.string(), rgb.data(), size, size);
  } else {
    WriteJpeg(path.string(), rgb.data(), size, size, 90);
  }
}

// Three classes of 12 training images each (PNG and JPEG, plus two files that are not images) and
// 6 eval images with their labels in eval_labels.csv; returns the eval ids, sorted.
std::vector<std::string> WriteShapes(const fs::path& data,
                                     const std::vector<std::string>& classes) {
  const int class_of_name[] = {2, 0, 1};  // folder name -> the pattern drawn
  fs::create_directories(data);
  std::ofstream labels(data / "eval_labels.csv");
  for (size_t c = 0; c < classes.size(); ++c) {
    for (int i = 0; i < 12; ++i) {
      WriteClassImage(data / "train" / classes[c] / (std::to_string(i) + (i % 2 ? ".png" : ".jpg")),
                      class_of_name[c], i);
    }
  }
  // Not images: ignored.
  std::ofstream(data / "train" / "vertical" / "._0.jpg") << "metadata";
  std::ofstream(data / "train" / "horizontal" / "notes.txt") << "notes";
  labels << "path,label\n";
  std::vector<std::string> eval_ids;
  for (int i = 0; i < 6; ++i) {
    const std::string id =
        (i < 3 ? "batch1/" : "") + std::string("img") + std::to_string(i) + ".png";
    WriteClassImage(data / "eval" / id, class_of_name[i % 3], 100 + i);
    labels << id << "," << classes[static_cast<size_t>(i % 3)] << "\n";
    eval_ids.push_back(id);
  }
  labels.close();
  std::sort(eval_ids.begin(), eval_ids.end());
  return eval_ids;
}

constexpr const char* kShapesStudy = R"(study: shapes
storage: runs/store.sqlite
artifacts: runs/artifacts
data:
  format: imagefolder
  train: data/train
  eval: data/eval
  image_size: [24, 24]
  split: {val_fraction: 0.25, seed: 1}
budget: {trials: 4, epochs: 2}
sampler: {type: random, seed: 2}
enqueue:
  - {head: multitask}
space:
  backbone: custom_cnn
  head: {choice: [single, multitask]}
  lr: {log_uniform: [1.0e-3, 1.0e-2]}
  batch_size: 8
)";

}  // namespace

TEST_CASE("an imagefolder study completes trials and writes a path,label submission",
          "[e2e][formats][torch]") {
  const fs::path dir = FreshDir("imagefolder");
  const std::vector<std::string> classes = {"diagonal", "horizontal", "vertical"};
  const std::vector<std::string> eval_ids = WriteShapes(dir / "data", classes);

  std::ofstream(dir / "study.yaml") << kShapesStudy;
  const auto run =
      RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 1 --threads 1");
  INFO(run.output);
  REQUIRE(run.status == 0);

  const StoredStudy stored = ReadStudy(dir, "shapes");
  const auto& store = stored.store;
  const auto& trials = stored.trials;
  REQUIRE(trials.size() == 4);
  // Multitask trials (the enqueued first one among them) fail with a clear message; the others
  // complete with a confusion matrix over the class names.
  CHECK(trials[0].params["head"] == "multitask");
  int complete = 0;
  for (const auto& t : trials) {
    INFO("trial " << t.number << ": " << t.error);
    if (t.params["head"] == "multitask") {
      CheckFailedWith(t, "needs data.format mask");
      continue;
    }
    REQUIRE(t.state == TrialState::kComplete);
    ++complete;
    for (const auto& a : store->Artifacts(t.id)) {
      if (a.kind != "confusion_matrix") continue;
      const CsvTable confusion = ReadCsv(a.path);
      CHECK(confusion.header ==
            std::vector<std::string>{"truth", "diagonal", "horizontal", "vertical"});
      CHECK(confusion.rows.size() == 3);
    }
  }
  REQUIRE(complete >= 2);

  const CsvTable written = ScoredEnsemble(dir, 2);
  const fs::path submission = dir / "submission.csv";
  CHECK(written.header == std::vector<std::string>{"path", "label"});
  REQUIRE(written.rows.size() == eval_ids.size());
  for (size_t r = 0; r < eval_ids.size(); ++r) {
    CHECK(written.rows[r][0] == eval_ids[r]);
    CHECK(std::count(classes.begin(), classes.end(), written.rows[r][1]) == 1);
  }

  const auto score = RunCommand(Ensweep() + " score " + submission.string() + " --labels " +
                                (dir / "data/eval_labels.csv").string() + " --format json");
  INFO(score.output);
  REQUIRE(score.status == 0);
  const auto parsed = nlohmann::json::parse(score.output);
  CHECK(parsed["rows"] == 6);
  CHECK(parsed["accuracy"].get<double>() >= 0.0);
}

TEST_CASE("a csv study with a bad row stops with its file and line and status 2",
          "[e2e][formats][torch]") {
  const fs::path dir = FreshDir("csv_bad");
  WriteClassImage(dir / "img" / "a.png", 0, 0);
  std::ofstream(dir / "labels.csv") << "path,label\nimg/a.png,stripes\nimg/b.png,dots\n";
  std::ofstream(dir / "study.yaml") << "study: bad_csv\nstorage: s.sqlite\n"
                                       "data: {format: csv, train: labels.csv}\n"
                                       "budget: {trials: 1, epochs: 1}\n"
                                       "space: {backbone: custom_cnn}\n";
  const auto run =
      RunCommand(Ensweep() + " run " + (dir / "study.yaml").string() + " --workers 1 --threads 1");
  INFO(run.output);
  // The listing error fails the trial; the run itself completes and reports it.
  CHECK_THAT(run.output, Catch::Contains("labels.csv:3: image"));

  std::ofstream(dir / "folder.yaml") << "study: folder\ndata: {format: csv, train: img}\n";
  const auto folder = RunCommand(Ensweep() + " run " + (dir / "folder.yaml").string());
  CHECK(folder.status == 2);
  CHECK_THAT(folder.output, Catch::Contains("folder.yaml:2") && Catch::Contains("'data.train'") &&
                                Catch::Contains("expects a CSV file"));
}
