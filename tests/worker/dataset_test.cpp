// Data formats other than the competition's: loading, splits and folds of imagefolder and csv data,
// and the heads and metrics over their class counts.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that Catch's
// CHECK is the one in force.
#include "worker/heads.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/error.h"
#include "datagen/image_encode.h"
#include "tests/scratch_dir.h"
#include "worker/dataset.h"
#include "worker/evaluation.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir(const std::string& name) { return test::FreshDir("ensweep_dataset", name); }

// A small solid-colour image, PNG or JPEG by extension.
void WriteImage(const fs::path& path, int shade) {
  fs::create_directories(path.parent_path());
  std::vector<uint8_t> rgb(12 * 10 * 3, static_cast<uint8_t>(shade));
  if (path.extension() == ".png") {
    WritePng(path.string(), rgb.data(), 12, 10);
  } else {
    WriteJpeg(path.string(), rgb.data(), 12, 10, 90);
  }
}

DataSpec Spec(const std::string& format, const fs::path& train, const fs::path& eval = {}) {
  DataSpec data;
  data.format = *ParseOption<DataFormat>(format);
  data.train = train.string();
  data.eval = eval.string();
  data.width = 8;
  data.height = 8;
  data.split.seed = 3;
  return data;
}

std::set<std::string> GroupsOf(const Dataset& d, const std::vector<int64_t>& indices) {
  std::set<std::string> groups;
  for (int64_t i : indices) groups.insert(d.train_listing[static_cast<size_t>(i)].person);
  return groups;
}

}  // namespace

TEST_CASE("an imagefolder loads with its classes, a stratified split, folds and eval images",
          "[worker][dataset]") {
  const fs::path dir = FreshDir("imagefolder");
  const std::vector<std::string> classes = {"cat", "dog", "fox"};
  for (size_t c = 0; c < classes.size(); ++c) {
    for (int i = 0; i < 6; ++i) {
      WriteImage(dir / "train" / classes[c] / (std::to_string(i) + (i % 2 ? ".png" : ".jpg")),
                 static_cast<int>(c) * 80);
    }
    WriteImage(dir / "train" / classes[c] / "._0.jpg", 0);  // skipped, though it decodes
  }
  std::ofstream(dir / "train" / "dog" / "notes.txt") << "not an image";
  WriteImage(dir / "eval" / "b.jpg", 10);
  WriteImage(dir / "eval" / "a" / "c.png", 200);

  DataSpec data = Spec("imagefolder", dir / "train", dir / "eval");
  data.split.val_fraction = 0.34;
  const Dataset d = LoadDataset(data, 2, {});
  CHECK(d.num_classes == 3);
  CHECK(d.class_names == classes);
  REQUIRE(d.train_listing.size() == 18);
  CHECK(d.train_images.size() == 18);
  CHECK(d.train_images.width() == 8);
  // by: person on an imagefolder splits images (each its own group), stratified on the class.
  REQUIRE(d.split.val.size() == 6);
  std::map<int, int> val_per_class;
  for (int64_t i : d.split.val) ++val_per_class[d.train_listing[static_cast<size_t>(i)].label];
  CHECK(val_per_class == std::map<int, int>{{0, 2}, {1, 2}, {2, 2}});
  CHECK(d.split.train.size() == 12);
  REQUIRE(d.eval_listing.size() == 2);
  CHECK(d.eval_listing[0].image_id == "a/c.png");
  CHECK(d.eval_listing[1].image_id == "b.jpg");
  CHECK(d.eval_images.size() == 2);
  CHECK(d.eval_images.image(0)[0] > 150);  // a/c.png is the bright one

  data.split.folds = 3;
  const Dataset k = LoadDataset(data, 2, {});
  REQUIRE(k.folds.size() == 3);
  std::vector<int> validated(18, 0);
  for (const SplitIndices& fold : k.folds) {
    std::map<int, int> per_class;
    for (int64_t i : fold.val) {
      ++validated[static_cast<size_t>(i)];
      ++per_class[k.train_listing[static_cast<size_t>(i)].label];
    }
    CHECK(per_class == std::map<int, int>{{0, 2}, {1, 2}, {2, 2}});
    CHECK(fold.train.size() == 12);
  }
  CHECK(validated == std::vector<int>(18, 1));
}

TEST_CASE("a csv with groups splits and folds on the group column", "[worker][dataset]") {
  const fs::path dir = FreshDir("csv");
  std::ofstream csv(dir / "labels.csv");
  csv << "group,path,label\n";
  for (int g = 0; g < 12; ++g) {
    for (int i = 0; i < 3; ++i) {
      const std::string name = "p" + std::to_string(g) + "_" + std::to_string(i) + ".jpg";
      WriteImage(dir / "images" / name, g * 20);
      csv << "person" << g << ",images/" << name << "," << (g % 2 ? "masked" : "bare") << "\n";
    }
  }
  csv.close();
  std::ofstream(dir / "eval.csv") << "path\nimages/p0_0.jpg\nimages/p5_1.jpg\n";

  DataSpec data = Spec("csv", dir / "labels.csv", dir / "eval.csv");
  data.split.val_fraction = 0.25;
  const Dataset d = LoadDataset(data, 2, {});
  CHECK(d.class_names == std::vector<std::string>{"bare", "masked"});
  CHECK(d.num_classes == 2);
  const std::set<std::string> val = GroupsOf(d, d.split.val);
  CHECK(val.size() == 4);  // 25 % of 6 groups per class, rounded: 2 + 2
  for (const std::string& g : GroupsOf(d, d.split.train)) CHECK(val.count(g) == 0);
  REQUIRE(d.eval_listing.size() == 2);
  CHECK(d.eval_listing[1].image_id == "images/p5_1.jpg");

  data.split.folds = 4;
  const Dataset k = LoadDataset(data, 2, {});
  REQUIRE(k.folds.size() == 4);
  std::map<std::string, int> times;
  for (const SplitIndices& fold : k.folds) {
    const std::set<std::string> fold_val = GroupsOf(k, fold.val);
    for (const std::string& g : GroupsOf(k, fold.train)) CHECK(fold_val.count(g) == 0);
    for (const std::string& g : fold_val) ++times[g];
  }
  CHECK(times.size() == 12);
  for (const auto& [group, n] : times) CHECK(n == 1);

  // by: image ignores the groups.
  data.split.folds = 1;
  data.split.by = SplitBy::kImage;
  const Dataset leaky = LoadDataset(data, 2, {});
  CHECK(leaky.split.train.size() + leaky.split.val.size() == 36);
}

TEST_CASE("a csv naming a missing image fails with its file and line", "[worker][dataset]") {
  const fs::path dir = FreshDir("csv_missing");
  WriteImage(dir / "a.jpg", 1);
  std::ofstream(dir / "t.csv") << "path,label\na.jpg,x\nb.jpg,y\n";
  CHECK_THROWS_WITH(
      LoadDataset(Spec("csv", dir / "t.csv"), 1, {}),
      Catch::Contains((dir / "t.csv").string() + ":3: image") && Catch::Contains("does not exist"));
}

TEST_CASE("heads and class weights follow the data's class count; multitask needs mask data",
          "[worker][heads]") {
  CHECK(HeadOutputs("single", "imagefolder", 3) == 3);
  CHECK(HeadOutputs("single", "mask", 18) == 18);
  CHECK(HeadOutputs("multitask", "mask", 18) == 8);
  CHECK_THROWS_WITH(HeadOutputs("multitask", "csv", 5),
                    Catch::Contains("needs data.format mask") && Catch::Contains("head: single"));
  CHECK_THROWS_WITH(HeadOutputs("single", "csv", 1), Catch::Contains("at least 2"));

  // 6 labels over 3 classes: counts 3, 2, 1 -> n / (k * count) = 2/3, 1, 2.
  const ClassWeights w = MakeClassWeights("balanced", {0, 0, 0, 1, 1, 2}, 3, torch::kCPU);
  REQUIRE(w.single.defined());
  REQUIRE(w.single.size(0) == 3);
  CHECK(w.single[0].item<double>() == Approx(2.0 / 3));
  CHECK(w.single[1].item<double>() == Approx(1.0));
  CHECK(w.single[2].item<double>() == Approx(2.0));
  CHECK_FALSE(w.mask.defined());
  CHECK(MakeClassWeights("balanced", {0, 17}, 18, torch::kCPU).age.defined());
  CHECK_THROWS(MakeClassWeights("balanced", {0, 3}, 3, torch::kCPU));
  CHECK_FALSE(MakeClassWeights("none", {0, 1}, 3, torch::kCPU).single.defined());

  // A single head's probabilities have one column per class.
  const torch::Tensor p = HeadProbabilities(torch::randn({4, 3}), "single");
  CHECK(p.size(1) == 3);
  CHECK(p.sum(1)[2].item<double>() == Approx(1.0));
}

TEST_CASE("metrics and the confusion matrix take the class count and names",
          "[worker][evaluation]") {
  // 4 rows of 3 classes; predictions 0, 1, 1, 2 against truth 0, 1, 2, 2.
  const std::vector<float> probs = {0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f,
                                    0.1f, 0.6f, 0.3f, 0.1f, 0.2f, 0.7f};
  const std::vector<int> truth = {0, 1, 2, 2};
  const MetricMap m = ValidationMetrics(probs, truth, 3, /*mask_tasks=*/false);
  CHECK(m.at("val_accuracy") == Approx(0.75));
  // F1: class 0 1, class 1 2/3, class 2 2/3.
  CHECK(m.at("val_macro_f1") == Approx((1.0 + 2.0 / 3 + 2.0 / 3) / 3));
  CHECK(m.count("val_mask_f1") == 0);
  CHECK_THROWS(ValidationMetrics(probs, truth, 4, false));
  CHECK_THROWS(ValidationMetrics(probs, truth, 3, true));

  const fs::path dir = FreshDir("confusion");
  WriteConfusionCsv((dir / "c.csv").string(), probs, truth, {"cat", "dog", "fox"});
  std::ifstream in(dir / "c.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  CHECK(lines ==
        std::vector<std::string>{"truth,cat,dog,fox", "cat,1,0,0", "dog,0,1,0", "fox,0,1,1"});
}

}  // namespace ensweep
