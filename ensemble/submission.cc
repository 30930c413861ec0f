#include "ensemble/submission.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "core/csv.h"
#include "core/error.h"
#include "core/listing.h"
#include "core/mask_layout.h"
#include "core/metrics.h"

namespace ensweep {
namespace {

int ParseClass(const std::string& text, const std::string& where) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= 0 && value < kNumClasses) return value;
  } catch (const std::exception&) {
  }
  throw UserError(where + ": ans must be a class 0..17, got '" + text + "'");
}

// Records id's line in `line_of`; throws UserError at `where` if id was already there.
void RefuseRepeat(std::map<std::string, int>& line_of, const std::string& id, int line,
                  const std::string& where, const std::string& id_column) {
  const auto [first, inserted] = line_of.emplace(id, line);
  if (!inserted) {
    throw UserError(where + ": " + id_column + " " + id + " appears twice (first at line " +
                    std::to_string(first->second) + "); expected one row per image");
  }
}

void CheckRows(const std::string& what, size_t rows, const Matrix& probs) {
  if (static_cast<int64_t>(rows) != probs.rows) {
    throw UserError(what + ": has " + std::to_string(rows) + " rows but the predictions have " +
                    std::to_string(probs.rows));
  }
}

void CheckClasses(const SubmissionTarget& target, const Matrix& probs) {
  if (probs.cols != static_cast<int64_t>(target.class_names.size())) {
    throw UserError("the predictions have " + std::to_string(probs.cols) +
                    " classes but the data has " + std::to_string(target.class_names.size()));
  }
}

// Writes out_path through a temporary file and a rename, so that a reader never sees half a
// submission; creates the parent folder.
void WriteAtomically(const std::string& out_path, const std::function<void(std::ostream&)>& body) {
  const auto parent = std::filesystem::path(out_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  const std::string temporary = out_path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw UserError(out_path + ": cannot write");
    body(out);
    if (!out) throw UserError(out_path + ": write failed");
  }
  std::filesystem::rename(temporary, out_path);
}

// One row of a labels file.
struct Label {
  std::string id;
  std::string label;
  std::string where;  // file:line
};

// The rows of a labels file with columns id_column and label_column, in file order. Throws
// UserError naming the file if it has no rows, and file:line for an image labelled twice or an
// empty label.
std::vector<Label> ReadLabels(const std::string& labels_csv, const std::string& id_column,
                              const std::string& label_column) {
  const CsvTable table = ReadCsv(labels_csv);
  const size_t id_col = table.Column(id_column), label_col = table.Column(label_column);
  if (table.rows.empty()) {
    throw UserError(labels_csv + ": no labelled rows, only the header; expected one " + id_column +
                    "," + label_column + " row per evaluated image");
  }
  std::vector<Label> labels;
  std::map<std::string, int> seen;  // id -> line
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string where = labels_csv + ":" + std::to_string(table.lines[r]);
    const std::string& id = table.rows[r][id_col];
    const auto [first, inserted] = seen.emplace(id, table.lines[r]);
    if (!inserted) {
      throw UserError(where + ": " + id_column + " " + id + " is already labelled at line " +
                      std::to_string(first->second) + "; expected each image once");
    }
    if (table.rows[r][label_col].empty()) throw UserError(where + ": empty " + label_column);
    labels.push_back({id, table.rows[r][label_col], where});
  }
  return labels;
}

// Throws UserError if any labelled image has no prediction: a competition scorer refuses such a
// submission rather than scoring part of it. Names the first few, with their labels' file:line.
void RequireEveryLabelled(const std::vector<const Label*>& missing, const std::string& source,
                          const std::string& id_column) {
  if (missing.empty()) return;
  constexpr size_t kNamed = 5;
  std::string names;
  for (size_t i = 0; i < missing.size() && i < kNamed; ++i) {
    names += (i ? ", " : "") + missing[i]->id + " (labelled at " + missing[i]->where + ")";
  }
  if (missing.size() > kNamed) names += " and " + std::to_string(missing.size() - kNamed) + " more";
  throw UserError(source + ": no prediction for " +
                  (missing.size() == 1
                       ? id_column + " "
                       : std::to_string(missing.size()) + " labelled images: " + id_column + " ") +
                  names + "; every labelled image must have exactly one row");
}

// Scores image id -> predicted class name against a path,label file, with the macro F1 over the
// names that occur in either.
SubmissionScore ScoreNamed(const std::map<std::string, std::string>& predicted,
                           const std::string& source, const std::string& labels_csv) {
  const std::vector<Label> labels = ReadLabels(labels_csv, "path", "label");
  std::vector<std::string> truth_names, guess_names;
  std::set<std::string> names;
  std::vector<const Label*> missing;
  for (const Label& label : labels) {
    auto it = predicted.find(label.id);
    if (it == predicted.end()) {
      missing.push_back(&label);
      continue;
    }
    truth_names.push_back(label.label);
    guess_names.push_back(it->second);
    names.insert(truth_names.back());
    names.insert(guess_names.back());
  }
  RequireEveryLabelled(missing, source, "path");
  const std::vector<std::string> classes(names.begin(), names.end());
  const auto index = [&](const std::string& name) {
    return static_cast<int>(std::lower_bound(classes.begin(), classes.end(), name) -
                            classes.begin());
  };
  std::vector<int> truth, guess;
  for (size_t i = 0; i < truth_names.size(); ++i) {
    truth.push_back(index(truth_names[i]));
    guess.push_back(index(guess_names[i]));
  }
  const ConfusionMatrix confusion = Confusion(truth, guess, static_cast<int>(classes.size()));
  return SubmissionScore{static_cast<int64_t>(truth.size()), confusion.Accuracy(),
                         confusion.MacroF1(),
                         static_cast<int64_t>(predicted.size() - truth.size())};
}

}  // namespace

void WriteSubmission(const std::string& info_csv, const Matrix& probs,
                     const std::string& out_path) {
  const CsvTable info = ReadCsv(info_csv);
  info.Column("ImageID");
  const size_t ans_col = info.Column("ans");
  CheckRows(info_csv, info.rows.size(), probs);
  const std::vector<int> predicted = ArgmaxRows(probs.values, probs.rows, probs.cols);
  WriteAtomically(out_path, [&](std::ostream& out) {
    WriteCsvRow(out, info.header);
    for (size_t r = 0; r < info.rows.size(); ++r) {
      std::vector<std::string> row = info.rows[r];
      row[ans_col] = std::to_string(predicted[r]);
      WriteCsvRow(out, row);
    }
  });
}

namespace {

// Scores ImageID -> predicted class against labels_csv; `source` names the predictions in errors.
SubmissionScore ScoreAgainstLabels(const std::map<std::string, int>& predicted,
                                   const std::string& source, const std::string& labels_csv) {
  const std::vector<Label> labels = ReadLabels(labels_csv, "ImageID", "ans");
  std::vector<int> truth, guess;
  std::vector<const Label*> missing;
  for (const Label& label : labels) {
    const int true_class = ParseClass(label.label, label.where);
    auto it = predicted.find(label.id);
    if (it == predicted.end()) {
      missing.push_back(&label);
      continue;
    }
    truth.push_back(true_class);
    guess.push_back(it->second);
  }
  RequireEveryLabelled(missing, source, "ImageID");
  const ConfusionMatrix confusion = Confusion(truth, guess, kNumClasses);
  return SubmissionScore{static_cast<int64_t>(truth.size()), confusion.Accuracy(),
                         confusion.MacroF1(),
                         static_cast<int64_t>(predicted.size() - truth.size())};
}

}  // namespace

SubmissionScore ScoreSubmission(const std::string& submission_csv, const std::string& labels_csv) {
  const CsvTable submission = ReadCsv(submission_csv);
  const auto& h = submission.header;
  if (std::find(h.begin(), h.end(), "ImageID") == h.end() &&
      std::find(h.begin(), h.end(), "path") != h.end()) {
    const size_t sub_path = submission.Column("path"), sub_label = submission.Column("label");
    std::map<std::string, std::string> predicted;
    std::map<std::string, int> line_of;
    for (size_t r = 0; r < submission.rows.size(); ++r) {
      const std::string where = submission_csv + ":" + std::to_string(submission.lines[r]);
      const std::string& id = submission.rows[r][sub_path];
      RefuseRepeat(line_of, id, submission.lines[r], where, "path");
      if (submission.rows[r][sub_label].empty()) throw UserError(where + ": empty label");
      predicted.emplace(id, submission.rows[r][sub_label]);
    }
    return ScoreNamed(predicted, submission_csv, labels_csv);
  }
  const size_t sub_id = submission.Column("ImageID"), sub_ans = submission.Column("ans");
  std::map<std::string, int> predicted;
  std::map<std::string, int> line_of;
  for (size_t r = 0; r < submission.rows.size(); ++r) {
    const std::string where = submission_csv + ":" + std::to_string(submission.lines[r]);
    const std::string& id = submission.rows[r][sub_id];
    RefuseRepeat(line_of, id, submission.lines[r], where, "ImageID");
    predicted.emplace(id, ParseClass(submission.rows[r][sub_ans], where));
  }
  return ScoreAgainstLabels(predicted, submission_csv, labels_csv);
}

SubmissionScore ScorePredictions(const std::string& info_csv, const Matrix& probs,
                                 const std::string& labels_csv) {
  const CsvTable info = ReadCsv(info_csv);
  const size_t id_col = info.Column("ImageID");
  if (static_cast<int64_t>(info.rows.size()) != probs.rows) {
    throw UserError(info_csv + ": has " + std::to_string(info.rows.size()) +
                    " rows but the predictions have " + std::to_string(probs.rows));
  }
  const std::vector<int> classes = ArgmaxRows(probs.values, probs.rows, probs.cols);
  std::map<std::string, int> predicted;
  std::map<std::string, int> line_of;
  for (size_t r = 0; r < info.rows.size(); ++r) {
    const std::string& id = info.rows[r][id_col];
    RefuseRepeat(line_of, id, info.lines[r], info_csv + ":" + std::to_string(info.lines[r]),
                 "ImageID");
    predicted[id] = classes[r];
  }
  return ScoreAgainstLabels(predicted, info_csv + " predictions", labels_csv);
}

SubmissionTarget SubmissionTargetFor(const DataSpec& data) {
  if (data.eval.empty()) throw UserError("the study has no eval data (data.eval)");
  SubmissionTarget target;
  if (data.format == DataFormat::kMask) {
    target.info_csv = (std::filesystem::path(data.eval) / "info.csv").string();
    return target;
  }
  for (const EvalImage& image : ListEvalImages(data)) target.image_ids.push_back(image.image_id);
  target.class_names = ListClassNames(data);
  return target;
}

void WriteSubmission(const SubmissionTarget& target, const Matrix& probs,
                     const std::string& out_path) {
  if (!target.info_csv.empty()) {
    WriteSubmission(target.info_csv, probs, out_path);
    return;
  }
  CheckRows("the eval listing", target.image_ids.size(), probs);
  CheckClasses(target, probs);
  const std::vector<int> predicted = ArgmaxRows(probs.values, probs.rows, probs.cols);
  WriteAtomically(out_path, [&](std::ostream& out) {
    out << "path,label\n";
    for (size_t r = 0; r < target.image_ids.size(); ++r) {
      WriteCsvRow(out,
                  {target.image_ids[r], target.class_names[static_cast<size_t>(predicted[r])]});
    }
  });
}

SubmissionScore ScorePredictions(const SubmissionTarget& target, const Matrix& probs,
                                 const std::string& labels_csv) {
  if (!target.info_csv.empty()) return ScorePredictions(target.info_csv, probs, labels_csv);
  CheckRows("the eval listing", target.image_ids.size(), probs);
  CheckClasses(target, probs);
  const std::vector<int> classes = ArgmaxRows(probs.values, probs.rows, probs.cols);
  std::map<std::string, std::string> predicted;
  for (size_t r = 0; r < target.image_ids.size(); ++r) {
    predicted[target.image_ids[r]] = target.class_names[static_cast<size_t>(classes[r])];
  }
  return ScoreNamed(predicted, "the eval predictions", labels_csv);
}

}  // namespace ensweep
