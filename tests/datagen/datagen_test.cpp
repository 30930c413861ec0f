#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/mask_layout.h"
#include "datagen/mask_generator.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using ensweep::DatagenOptions;
using ensweep::GenerateMaskDataset;

namespace {

// A scratch path, not yet created, removed when the test process exits.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path(ensweep::test::ScratchPath("ensweep_datagen", name)) {}
  std::string str() const { return path.string(); }
  fs::path path;
};

std::string ReadText(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::vector<std::string> ReadLines(const fs::path& path) {
  std::istringstream text(ReadText(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  for (std::string field; std::getline(stream, field, ',');) fields.push_back(field);
  return fields;
}

// Every file under root, by relative path, with its bytes.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), root).string()] = ReadText(entry.path());
    }
  }
  return files;
}

bool HasMagicFor(const std::string& bytes, const std::string& extension) {
  if (extension == ".png") return bytes.compare(0, 4, "\x89PNG") == 0;
  return bytes.size() > 2 && bytes[0] == '\xFF' && bytes[1] == '\xD8';
}

DatagenOptions Tiny(int people, uint64_t seed) {
  DatagenOptions options;
  options.people = people;
  options.width = 24;
  options.height = 32;
  options.seed = seed;
  return options;
}

}  // namespace

namespace {

// train/train.csv: one row per person, and each person's folder holds the 7 photos.
void CheckTrainTable(const fs::path& dir) {
  const auto train_lines = ReadLines(dir / "train" / "train.csv");
  REQUIRE(train_lines.size() == 13);
  CHECK(train_lines[0] == "id,gender,race,age,path");
  const std::regex row_pattern(
      R"((\d{6}),(male|female),Asian,(\d+),(\d{6})_(male|female)_Asian_(\d+))");
  const std::set<std::string> stems = {"mask1", "mask2",          "mask3", "mask4",
                                       "mask5", "incorrect_mask", "normal"};
  for (size_t i = 1; i < train_lines.size(); ++i) {
    std::smatch m;
    REQUIRE(std::regex_match(train_lines[i], m, row_pattern));
    char id[32];
    std::snprintf(id, sizeof(id), "%06zu", i);
    CHECK(m[1] == id);
    CHECK(m[4] == m[1]);
    CHECK(m[5] == m[2]);
    CHECK(m[6] == m[3]);
    const int age = std::stoi(m[3]);
    CHECK(age >= 18);
    CHECK(age <= 80);
    std::set<std::string> found;
    for (const auto& entry :
         fs::directory_iterator(dir / "train" / "images" / Split(train_lines[i])[4])) {
      const std::string extension = entry.path().extension().string();
      CHECK((extension == ".jpg" || extension == ".jpeg" || extension == ".png"));
      CHECK(HasMagicFor(ReadText(entry.path()), extension));
      found.insert(entry.path().stem().string());
    }
    CHECK(found == stems);
  }
}

void CheckTrainListing(const fs::path& dir) {
  // ReadMaskTrain sees 7 photos per person, labelled from the folder name and the stem.
  const auto train = ensweep::ReadMaskTrain((dir / "train").string());
  REQUIRE(train.size() == 84);
  for (const auto& image : train) {
    const auto parts = Split(std::regex_replace(image.person, std::regex("_"), ","));
    const int gender = parts[1] == "female" ? 1 : 0;
    const int mask = ensweep::MaskStateFromStem(fs::path(image.path).stem().string());
    CHECK(image.label == ensweep::EncodeClass(mask, gender, ensweep::AgeBand(std::stoi(parts[3]))));
  }
}

void CheckEvalTables(const fs::path& dir) {
  // eval: info.csv with hashed names, and the true labels in a separate file outside eval/.
  const auto eval = ensweep::ReadMaskEval((dir / "eval").string());
  const auto info_lines = ReadLines(dir / "eval" / "info.csv");
  const auto label_lines = ReadLines(dir / "eval_labels.csv");
  REQUIRE(eval.size() == 35);
  REQUIRE(info_lines.size() == 36);
  REQUIRE(label_lines.size() == 36);
  CHECK(info_lines[0] == "ImageID,ans");
  CHECK(label_lines[0] == "ImageID,ans");
  const std::regex id_pattern(R"([0-9a-f]{40}\.(jpg|jpeg|png))");
  std::set<std::string> ids;
  std::map<int, int> mask_counts;
  for (size_t i = 0; i < eval.size(); ++i) {
    CHECK(std::regex_match(eval[i].image_id, id_pattern));
    CHECK(fs::is_regular_file(eval[i].path));
    CHECK(HasMagicFor(ReadText(eval[i].path), fs::path(eval[i].path).extension().string()));
    CHECK(info_lines[i + 1] == eval[i].image_id + ",0");
    const auto label = Split(label_lines[i + 1]);
    REQUIRE(label.size() == 2);
    CHECK(label[0] == eval[i].image_id);
    const int cls = std::stoi(label[1]);
    CHECK(cls >= 0);
    CHECK(cls < ensweep::kNumClasses);
    ++mask_counts[ensweep::MaskOf(cls)];
    ids.insert(eval[i].image_id);
  }
  CHECK(ids.size() == 35);
  CHECK(mask_counts == std::map<int, int>{{0, 25}, {1, 5}, {2, 5}});
  CHECK_FALSE(fs::exists(dir / "eval" / "eval_labels.csv"));
  CHECK(ReadLines(dir / "train_label_noise.csv") ==
        std::vector<std::string>{"path,given_label,true_label"});
}

}  // namespace

TEST_CASE("datagen writes the competition layout", "[datagen]") {
  TempDir dir("layout");
  DatagenOptions options = Tiny(12, 7);
  options.eval_people = 5;
  const auto summary = GenerateMaskDataset(dir.str(), options);
  CHECK(summary.train_people == 12);
  CHECK(summary.train_images == 84);
  CHECK(summary.eval_images == 35);
  CHECK(summary.noisy_labels == 0);

  CheckTrainTable(dir.path);
  CheckTrainListing(dir.path);
  CheckEvalTables(dir.path);

  const auto record = nlohmann::json::parse(ReadText(dir.path / "datagen.json"));
  CHECK(record.at("seed").get<uint64_t>() == 7);
  CHECK(record.at("people").get<int>() == 12);
  CHECK(record.at("eval_people").get<int>() == 5);
  CHECK(record.at("width").get<int>() == 24);
  CHECK(record.at("height").get<int>() == 32);
}

TEST_CASE("datagen output is a pure function of the options", "[datagen]") {
  TempDir first("same_a"), second("same_b"), other("other_seed");
  DatagenOptions options = Tiny(10, 42);
  options.label_noise = 0.3;
  GenerateMaskDataset(first.str(), options);
  GenerateMaskDataset(second.str(), options);
  const auto a = Snapshot(first.path), b = Snapshot(second.path);
  CHECK(a.size() == 10 * 7 + 5 * 7 + 5);
  CHECK(a == b);

  options.seed = 43;
  GenerateMaskDataset(other.str(), options);
  const auto c = Snapshot(other.path);
  CHECK(c.at("train/train.csv") != a.at("train/train.csv"));
  CHECK(c.at("eval/info.csv") != a.at("eval/info.csv"));
}

TEST_CASE("regenerating into a folder replaces photos left by an earlier run", "[datagen]") {
  TempDir dir("rerun");
  const DatagenOptions options = Tiny(3, 9);
  GenerateMaskDataset(dir.str(), options);
  const auto before = Snapshot(dir.path);
  // An earlier run with other extensions would have left a second copy of some stems.
  const fs::path person =
      dir.path / "train" / "images" / Split(ReadLines(dir.path / "train" / "train.csv")[1])[4];
  for (const char* stale : {"mask1.jpeg", "mask1.png", "normal.jpeg", "normal.png"}) {
    if (!fs::exists(person / stale)) std::ofstream(person / stale) << "stale";
  }
  GenerateMaskDataset(dir.str(), options);
  CHECK(ensweep::ReadMaskTrain((dir.path / "train").string()).size() == 21);
  CHECK(Snapshot(dir.path) == before);
}

TEST_CASE("a person looks the same whatever the number of people", "[datagen]") {
  TempDir few("few"), many("many");
  GenerateMaskDataset(few.str(), Tiny(2, 5));
  GenerateMaskDataset(many.str(), Tiny(6, 5));
  const auto a = Snapshot(few.path / "train" / "images"),
             b = Snapshot(many.path / "train" / "images");
  REQUIRE(a.size() == 14);
  for (const auto& [path, bytes] : a) CHECK(b.at(path) == bytes);
}

TEST_CASE("datagen follows the competition's class balance", "[datagen]") {
  TempDir dir("balance");
  DatagenOptions options = Tiny(400, 3);
  options.width = 16;
  options.height = 16;
  options.eval_people = 1;
  GenerateMaskDataset(dir.str(), options);
  const auto lines = ReadLines(dir.path / "train" / "train.csv");
  REQUIRE(lines.size() == 401);
  int female = 0;
  int bands[3] = {0, 0, 0};
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto fields = Split(lines[i]);
    female += fields[1] == "female";
    ++bands[ensweep::AgeBand(std::stoi(fields[3]))];
  }
  CHECK(female / 400.0 == Approx(0.6).margin(0.08));
  CHECK(bands[0] / 400.0 == Approx(0.47).margin(0.08));
  CHECK(bands[1] / 400.0 == Approx(0.45).margin(0.08));
  CHECK(bands[2] / 400.0 == Approx(0.08).margin(0.045));

  std::map<std::string, int> extensions;
  for (const auto& image : ensweep::ReadMaskTrain((dir.path / "train").string())) {
    ++extensions[fs::path(image.path).extension().string()];
  }
  CHECK(extensions[".jpg"] > 2000);
  CHECK(extensions[".jpeg"] > 50);
  CHECK(extensions[".png"] > 50);
}

TEST_CASE("datagen records its deliberately wrong labels", "[datagen]") {
  TempDir dir("noise");
  DatagenOptions options = Tiny(100, 11);
  options.label_noise = 0.2;
  const auto summary = GenerateMaskDataset(dir.str(), options);
  const auto lines = ReadLines(dir.path / "train_label_noise.csv");
  REQUIRE(lines.size() == 1 + 20 * 7);
  CHECK(lines[0] == "path,given_label,true_label");
  CHECK(summary.noisy_labels == 140);

  std::map<std::string, int> given;
  for (const auto& image : ensweep::ReadMaskTrain((dir.path / "train").string())) {
    given[fs::relative(image.path, dir.path).string()] = image.label;
  }
  std::set<std::string> people;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto fields = Split(lines[i]);
    REQUIRE(fields.size() == 3);
    REQUIRE(given.count(fields[0]) == 1);
    const int given_label = std::stoi(fields[1]), true_label = std::stoi(fields[2]);
    CHECK(given.at(fields[0]) == given_label);
    CHECK(given_label != true_label);
    CHECK(ensweep::MaskOf(given_label) == ensweep::MaskOf(true_label));
    // Exactly one of gender and age band is wrong.
    CHECK((ensweep::GenderOf(given_label) != ensweep::GenderOf(true_label)) !=
          (ensweep::AgeBandOf(given_label) != ensweep::AgeBandOf(true_label)));
    people.insert(fs::path(fields[0]).parent_path().string());
  }
  CHECK(people.size() == 20);
}

TEST_CASE("datagen reports progress up to the total on the calling thread", "[datagen]") {
  TempDir dir("progress");
  DatagenOptions options = Tiny(9, 1);
  options.eval_people = 3;
  std::vector<int> done;
  const auto caller = std::this_thread::get_id();
  bool same_thread = true;
  GenerateMaskDataset(dir.str(), options, [&](int count, int total) {
    CHECK(total == 12);
    same_thread = same_thread && std::this_thread::get_id() == caller;
    done.push_back(count);
  });
  REQUIRE_FALSE(done.empty());
  CHECK(done.back() == 12);
  CHECK(std::is_sorted(done.begin(), done.end()));
  CHECK(same_thread);
}

TEST_CASE("datagen rejects bad options and names the option", "[datagen]") {
  TempDir dir("bad");
  const auto rejects = [&](DatagenOptions options, const std::string& name) {
    CHECK_THROWS_AS(GenerateMaskDataset(dir.str(), options), ensweep::UserError);
    CHECK_THROWS_WITH(GenerateMaskDataset(dir.str(), options), Catch::Matchers::Contains(name));
  };
  DatagenOptions options = Tiny(3, 0);
  options.people = 0;
  rejects(options, "people");
  options = Tiny(3, 0);
  options.width = 15;
  rejects(options, "width");
  options = Tiny(3, 0);
  options.height = 8;
  rejects(options, "height");
  options = Tiny(3, 0);
  options.label_noise = 1.0;
  rejects(options, "label_noise");
  options.label_noise = -0.1;
  rejects(options, "label_noise");
  options = Tiny(3, 0);
  options.eval_people = -2;
  rejects(options, "eval_people");
  CHECK_FALSE(fs::exists(dir.path));
}
