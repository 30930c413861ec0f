#include "core/listing.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/csv.h"
#include "core/data_edits.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

bool IsHidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Every image under `root` (recursively; hidden folders and non-image files skipped) as paths
// relative to `root` with '/' separators, sorted.
std::vector<std::string> ImagesUnder(const fs::path& root) {
  std::vector<std::string> relative;
  auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && IsHidden(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !HasImageExtension(it->path().string())) continue;
    const std::string rel = it->path().lexically_relative(root).generic_string();
    relative.push_back(rel);
  }
  std::sort(relative.begin(), relative.end());
  return relative;
}

std::vector<std::string> ImageFolderClasses(const fs::path& root) {
  if (!fs::is_directory(root)) {
    throw UserError(root.string() + ": expected a folder with one sub-folder per class");
  }
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory() || IsHidden(entry.path())) continue;
    const std::string name = entry.path().filename().string();
    classes.push_back(name);
  }
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) {
    throw UserError(root.string() + ": no class folders; expected " + root.string() +
                    "/<class>/<image>");
  }
  return classes;
}

void ListImageFolderTrain(const fs::path& root, DataListing& listing) {
  listing.class_names = ImageFolderClasses(root);
  for (size_t c = 0; c < listing.class_names.size(); ++c) {
    const fs::path folder = root / listing.class_names[c];
    const std::vector<std::string> images = ImagesUnder(folder);
    if (images.empty()) {
      throw UserError(folder.string() + ": class folder has no images (.jpg, .jpeg or .png)");
    }
    for (const std::string& rel : images) {
      const std::string group = listing.class_names[c] + "/" + rel;  // the image itself
      listing.train.push_back(LabeledImage{(folder / rel).string(), group, static_cast<int>(c)});
    }
  }
}

std::vector<EvalImage> ListImageFolderEval(const fs::path& root) {
  if (!fs::is_directory(root)) throw UserError(root.string() + ": expected a folder of images");
  std::vector<EvalImage> images;
  for (const std::string& rel : ImagesUnder(root)) {
    images.push_back(EvalImage{rel, (root / rel).string()});
  }
  if (images.empty()) throw UserError(root.string() + ": no images (.jpg, .jpeg or .png)");
  return images;
}

// The image a CSV row names: non-empty, an image extension, an existing file (relative paths are
// relative to the CSV file's folder).
std::string CsvImagePath(const std::string& text, const fs::path& base, const std::string& where) {
  if (text.empty()) throw UserError(where + ": empty path; expected an image file");
  if (!HasImageExtension(text)) {
    throw UserError(where + ": '" + text + "' is not an image ensweep reads (.jpg, .jpeg or .png)");
  }
  const fs::path path = fs::path(text).is_absolute() ? fs::path(text) : base / text;
  if (!fs::is_regular_file(path)) {
    throw UserError(where + ": image " + path.string() + " does not exist");
  }
  return path.lexically_normal().string();
}

CsvTable ReadCsvFile(const fs::path& file) {
  if (fs::is_directory(file)) {
    throw UserError(file.string() + ": is a folder; data.format csv expects a CSV file");
  }
  CsvTable table = ReadCsv(file.string());
  if (table.rows.empty()) throw UserError(file.string() + ": no rows after the header");
  return table;
}

void ListCsvTrain(const fs::path& file, DataListing& listing) {
  const CsvTable table = ReadCsvFile(file);
  const size_t path_col = table.Column("path");
  const size_t label_col = table.Column("label");
  const auto group_it = std::find(table.header.begin(), table.header.end(), "group");
  const bool has_group = group_it != table.header.end();
  const size_t group_col = static_cast<size_t>(group_it - table.header.begin());
  const fs::path base = file.parent_path();

  std::set<std::string> names;
  std::map<std::string, int> first_line;  // image path -> line
  std::vector<std::string> labels;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const std::string where = table.path + ":" + std::to_string(table.lines[r]);
    const std::string path = CsvImagePath(row[path_col], base, where);
    const auto [it, inserted] = first_line.emplace(path, table.lines[r]);
    if (!inserted) {
      throw UserError(where + ": image " + row[path_col] + " is already listed at line " +
                      std::to_string(it->second));
    }
    if (row[label_col].empty()) throw UserError(where + ": empty label; expected a class name");
    if (has_group && row[group_col].empty()) {
      throw UserError(where + ": empty group; expected a group name (e.g. the person)");
    }
    names.insert(row[label_col]);
    labels.push_back(row[label_col]);
    listing.train.push_back(LabeledImage{path, has_group ? row[group_col] : path, 0});
  }
  listing.class_names.assign(names.begin(), names.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    listing.train[i].label = static_cast<int>(
        std::lower_bound(listing.class_names.begin(), listing.class_names.end(), labels[i]) -
        listing.class_names.begin());
  }
}

std::vector<EvalImage> ListCsvEval(const fs::path& file) {
  const CsvTable table = ReadCsvFile(file);
  const size_t path_col = table.Column("path");
  const fs::path base = file.parent_path();
  std::vector<EvalImage> images;
  std::map<std::string, int> first_line;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string where = table.path + ":" + std::to_string(table.lines[r]);
    const std::string& id = table.rows[r][path_col];
    const std::string path = CsvImagePath(id, base, where);
    const auto [it, inserted] = first_line.emplace(id, table.lines[r]);
    if (!inserted) {
      throw UserError(where + ": image " + id + " is already listed at line " +
                      std::to_string(it->second));
    }
    images.push_back(EvalImage{id, path});
  }
  return images;
}

std::vector<std::string> MaskClassNames() {
  std::vector<std::string> names;
  for (int c = 0; c < kNumClasses; ++c) names.push_back(std::to_string(c));
  return names;
}

[[noreturn]] void UnknownFormat(const DataSpec& data) {
  throw UserError("data.format '" + std::string(OptionName(data.format)) +
                  "' is not one of mask, imagefolder, csv");
}

}  // namespace

DataListing ListData(const DataSpec& data) {
  DataListing listing;
  if (data.format == DataFormat::kMask) {
    listing.train = ReadMaskTrain(data.train);
    listing.class_names = MaskClassNames();
  } else if (data.format == DataFormat::kImageFolder) {
    ListImageFolderTrain(fs::path(data.train), listing);
  } else if (data.format == DataFormat::kCsv) {
    ListCsvTrain(fs::path(data.train), listing);
  } else {
    UnknownFormat(data);
  }
  if (listing.train.empty()) throw UserError("no training images found in " + data.train);
  ApplyDataEdits(data, listing.class_names, listing.train);
  if (!data.eval.empty()) listing.eval = ListEvalImages(data);
  return listing;
}

std::vector<EvalImage> ListEvalImages(const DataSpec& data) {
  if (data.eval.empty()) return {};
  if (data.format == DataFormat::kMask) return ReadMaskEval(data.eval);
  if (data.format == DataFormat::kImageFolder) return ListImageFolderEval(fs::path(data.eval));
  if (data.format == DataFormat::kCsv) return ListCsvEval(fs::path(data.eval));
  UnknownFormat(data);
}

std::vector<std::string> ListClassNames(const DataSpec& data) {
  if (data.format == DataFormat::kMask) return MaskClassNames();
  if (data.format == DataFormat::kImageFolder) return ImageFolderClasses(fs::path(data.train));
  DataSpec train_only = data;
  train_only.eval.clear();
  return ListData(train_only).class_names;
}

void CheckDataPaths(const DataSpec& data, const std::string& where) {
  const bool file_format = data.format == DataFormat::kCsv;
  const auto check = [&](const std::string& key, const std::string& path) {
    if (file_format) {
      if (!fs::is_regular_file(path)) {
        throw UserError(where + ": '" + key + "': " + path +
                        (fs::is_directory(path) ? " is a folder; expected a CSV file"
                                                : " does not exist; expected a CSV file"));
      }
    } else if (!fs::is_directory(path)) {
      throw UserError(where + ": '" + key + "': folder " + path + " does not exist" +
                      (data.format == DataFormat::kMask
                           ? " (for synthetic data: ensweep datagen --out <folder>)"
                           : ""));
    }
  };
  check("data.train", data.train);
  if (!data.eval.empty()) check("data.eval", data.eval);
  if (data.format == DataFormat::kMask) {
    if (!fs::is_regular_file(fs::path(data.train) / "train.csv")) {
      throw UserError(where + ": 'data.train': " + data.train +
                      " has no train.csv (expected the competition layout)");
    }
    if (!data.eval.empty() && !fs::is_regular_file(fs::path(data.eval) / "info.csv")) {
      throw UserError(where + ": 'data.eval': " + data.eval + " has no info.csv");
    }
  }
}

}  // namespace ensweep
