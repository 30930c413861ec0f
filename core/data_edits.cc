#include "core/data_edits.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "core/csv.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::string Where(const std::string& path, int line) { return path + ":" + std::to_string(line); }

// Indices of `train` per person and per relative image path.
struct ListingIndex {
  std::map<std::string, std::vector<size_t>> by_person;
  std::map<std::string, size_t> by_image;
};

ListingIndex IndexListing(const DataSpec& data, const std::vector<LabeledImage>& train) {
  ListingIndex index;
  for (size_t i = 0; i < train.size(); ++i) {
    index.by_person[train[i].person].push_back(i);
    index.by_image[TrainRelativePath(data, train[i].path)] = i;
  }
  return index;
}

// The listing rows an edit names; throws naming file:line when the listing has none.
std::vector<size_t> RowsOf(const ListingIndex& index, const LabelEdit& edit,
                           const std::string& path) {
  if (edit.person_level) {
    const auto it = index.by_person.find(edit.person);
    if (it == index.by_person.end()) {
      throw UserError(Where(path, edit.line) + ": person '" + edit.person +
                      "' is not in the training data");
    }
    return it->second;
  }
  const auto it = index.by_image.find(edit.image);
  if (it == index.by_image.end()) {
    throw UserError(Where(path, edit.line) + ": image '" + edit.image +
                    "' is not in the training data (paths are relative to data.train)");
  }
  return {it->second};
}

int ValueIndex(const std::vector<std::string>& values, const std::string& value,
               const std::string& what, const std::string& where) {
  const auto it = std::find(values.begin(), values.end(), value);
  if (it == values.end()) {
    std::string names;
    for (const auto& v : values) names += (names.empty() ? "" : ", ") + v;
    throw UserError(where + ": " + what + " '" + value + "' is not one of " + names);
  }
  return static_cast<int>(it - values.begin());
}

int Relabel(const DataSpec& data, const std::vector<std::string>& class_names,
            std::vector<LabeledImage>& train) {
  const std::vector<LabelEdit> edits = ReadLabelEdits(data.relabel);
  const ListingIndex index = IndexListing(data, train);
  const bool mask = data.format == DataFormat::kMask;
  int relabelled = 0;
  for (const LabelEdit& edit : edits) {
    const std::string where = Where(data.relabel, edit.line);
    const bool field_ok = mask ? edit.field != "label" : edit.field == "label";
    if (!field_ok) {
      throw UserError(where + ": field '" + edit.field + "' does not exist in data.format " +
                      OptionName(data.format) + " (expected " +
                      (mask ? "mask, gender or age" : "label") + ")");
    }
    const std::vector<std::string>& values = mask ? MaskFieldValues(edit.field) : class_names;
    const int given = ValueIndex(values, edit.given, "given value", where);
    const int suggested = ValueIndex(values, edit.suggested, "suggested value", where);
    for (const size_t row : RowsOf(index, edit, data.relabel)) {
      int& label = train[row].label;
      const int current = mask ? MaskFieldOf(label, edit.field) : label;
      if (current != given) {
        throw UserError(where + ": given " + edit.field + " '" + edit.given +
                        "' but the data has '" + values[static_cast<size_t>(current)] + "' for " +
                        TrainRelativePath(data, train[row].path) +
                        " (a file for other data, or applied twice?)");
      }
      label = mask ? WithMaskField(label, edit.field, suggested) : suggested;
      ++relabelled;
    }
  }
  return relabelled;
}

int Exclude(const DataSpec& data, std::vector<LabeledImage>& train) {
  const std::vector<LabelEdit> edits = ReadLabelEdits(data.exclude);
  const ListingIndex index = IndexListing(data, train);
  std::vector<bool> dropped(train.size(), false);
  for (const LabelEdit& edit : edits) {
    for (const size_t row : RowsOf(index, edit, data.exclude)) dropped[row] = true;
  }
  std::vector<LabeledImage> kept;
  for (size_t i = 0; i < train.size(); ++i) {
    if (!dropped[i]) kept.push_back(std::move(train[i]));
  }
  const int excluded = static_cast<int>(train.size() - kept.size());
  if (kept.empty()) throw UserError(data.exclude + ": excludes every training image");
  train = std::move(kept);
  return excluded;
}

}  // namespace

const std::vector<std::string>& LabelEditColumns() {
  static const std::vector<std::string> columns = {"level", "person",    "image", "field",
                                                   "given", "suggested", "score"};
  return columns;
}

const std::vector<std::string>& MaskFieldValues(const std::string& field) {
  static const std::vector<std::string> mask = {"worn", "incorrect", "not_worn"};
  static const std::vector<std::string> gender = {"male", "female"};
  static const std::vector<std::string> age = {"0-29", "30-59", "60+"};
  if (field == "mask") return mask;
  if (field == "gender") return gender;
  if (field == "age") return age;
  throw std::invalid_argument("not a field of mask data: " + field);
}

int MaskFieldOf(int cls, const std::string& field) {
  if (field == "mask") return MaskOf(cls);
  if (field == "gender") return GenderOf(cls);
  if (field == "age") return AgeBandOf(cls);
  throw std::invalid_argument("not a field of mask data: " + field);
}

int WithMaskField(int cls, const std::string& field, int value) {
  int mask = MaskOf(cls), gender = GenderOf(cls), age = AgeBandOf(cls);
  if (field == "mask") {
    mask = value;
  } else if (field == "gender") {
    gender = value;
  } else if (field == "age") {
    age = value;
  } else {
    throw std::invalid_argument("not a field of mask data: " + field);
  }
  return EncodeClass(mask, gender, age);
}

std::string TrainRelativePath(const DataSpec& data, const std::string& absolute_path) {
  const fs::path root =
      data.format == DataFormat::kCsv ? fs::path(data.train).parent_path() : fs::path(data.train);
  return fs::path(absolute_path)
      .lexically_normal()
      .lexically_relative(root.lexically_normal())
      .generic_string();
}

std::vector<LabelEdit> ReadLabelEdits(const std::string& path) {
  const CsvTable table = ReadCsv(path);
  std::vector<size_t> col;
  for (const std::string& name : LabelEditColumns()) col.push_back(table.Column(name));
  std::vector<LabelEdit> edits;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const std::string where = Where(table.path, table.lines[r]);
    LabelEdit e;
    e.line = table.lines[r];
    const std::string& level = row[col[0]];
    if (level != "person" && level != "image") {
      throw UserError(where + ": level '" + level + "' is not person or image");
    }
    e.person_level = level == "person";
    e.person = row[col[1]];
    e.image = row[col[2]];
    e.field = row[col[3]];
    e.given = row[col[4]];
    e.suggested = row[col[5]];
    if (e.person_level && e.person.empty()) throw UserError(where + ": person row without person");
    if (e.person_level && !e.image.empty()) {
      throw UserError(where + ": a person row names no image (got '" + e.image + "')");
    }
    if (!e.person_level && e.image.empty()) throw UserError(where + ": image row without image");
    if (e.field != "mask" && e.field != "gender" && e.field != "age" && e.field != "label") {
      throw UserError(where + ": field '" + e.field + "' is not mask, gender, age or label");
    }
    const std::string& score = row[col[6]];
    char* end = nullptr;
    e.score = score.empty() ? 0.0 : std::strtod(score.c_str(), &end);
    if (!score.empty() && (end == nullptr || *end != '\0')) {
      throw UserError(where + ": score '" + score + "' is not a number");
    }
    edits.push_back(std::move(e));
  }
  return edits;
}

void WriteLabelEdits(const std::string& path, const std::vector<LabelEdit>& edits) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot open for writing");
  WriteCsvRow(out, LabelEditColumns());
  for (const LabelEdit& e : edits) {
    char score[32];
    std::snprintf(score, sizeof(score), "%.4f", e.score);
    WriteCsvRow(out, {e.person_level ? "person" : "image", e.person, e.image, e.field, e.given,
                      e.suggested, score});
  }
  out.close();
  if (!out) throw std::runtime_error(path + ": write failed");
}

EditSummary ApplyDataEdits(const DataSpec& data, const std::vector<std::string>& class_names,
                           std::vector<LabeledImage>& train) {
  EditSummary summary;
  if (!data.relabel.empty()) summary.relabelled_images = Relabel(data, class_names, train);
  if (!data.exclude.empty()) summary.excluded_images = Exclude(data, train);
  return summary;
}

}  // namespace ensweep
