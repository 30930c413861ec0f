#include "core/mask_layout.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "core/csv.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int MaskStateFromStem(const std::string& stem) {
  if (stem.size() == 5 && stem.compare(0, 4, "mask") == 0 && stem[4] >= '1' && stem[4] <= '5') {
    return 0;
  }
  if (stem == "incorrect_mask") return 1;
  if (stem == "normal") return 2;
  return -1;
}

bool HasImageExtension(const std::string& filename) {
  const std::string name = fs::path(filename).filename().string();
  if (name.empty() || name[0] == '.') return false;  // hidden files and macOS "._" metadata
  const std::string ext = Lower(fs::path(name).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<LabeledImage> ReadMaskTrain(const std::string& train_dir) {
  const fs::path root(train_dir);
  const CsvTable table = ReadCsv((root / "train.csv").string());
  const size_t gender_col = table.Column("gender");
  const size_t age_col = table.Column("age");
  const size_t path_col = table.Column("path");

  std::vector<LabeledImage> images;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const std::string where = table.path + ":" + std::to_string(table.lines[r]);
    const std::string gender_text = Lower(row[gender_col]);
    int gender;
    if (gender_text == "male") {
      gender = 0;
    } else if (gender_text == "female") {
      gender = 1;
    } else {
      throw UserError(where + ": gender must be 'male' or 'female', got '" + row[gender_col] + "'");
    }
    int age;
    try {
      size_t used = 0;
      age = std::stoi(row[age_col], &used);
      if (used != row[age_col].size() || age < 0) throw std::invalid_argument("age");
    } catch (const std::exception&) {
      throw UserError(where + ": age must be a non-negative integer, got '" + row[age_col] + "'");
    }
    const fs::path folder = root / "images" / row[path_col];
    if (!fs::is_directory(folder)) {
      throw UserError(where + ": person folder " + folder.string() + " does not exist");
    }
    std::vector<std::pair<std::string, int>> photos;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (!entry.is_regular_file() || !HasImageExtension(entry.path().string())) continue;
      const int mask = MaskStateFromStem(entry.path().stem().string());
      if (mask < 0) {
        throw UserError(entry.path().string() +
                        ": unexpected file name; expected mask1..mask5, incorrect_mask or normal");
      }
      photos.emplace_back(entry.path().string(), mask);
    }
    if (photos.empty())
      throw UserError(where + ": person folder " + folder.string() + " has no photos");
    std::sort(photos.begin(), photos.end());
    for (const auto& [path, mask] : photos) {
      images.push_back(LabeledImage{path, row[path_col], EncodeClass(mask, gender, AgeBand(age))});
    }
  }
  std::stable_sort(images.begin(), images.end(), [](const LabeledImage& a, const LabeledImage& b) {
    return a.person < b.person;
  });
  return images;
}

std::vector<EvalImage> ReadMaskEval(const std::string& eval_dir) {
  const fs::path root(eval_dir);
  const CsvTable table = ReadCsv((root / "info.csv").string());
  const size_t id_col = table.Column("ImageID");
  std::vector<EvalImage> images;
  images.reserve(table.rows.size());
  for (const auto& row : table.rows) {
    images.push_back(EvalImage{row[id_col], (root / "images" / row[id_col]).string()});
  }
  return images;
}

}  // namespace ensweep
