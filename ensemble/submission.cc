#include "ensemble/submission.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "core/csv.h"
#include "core/error.h"
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

}  // namespace

void WriteSubmission(const std::string& info_csv, const Matrix& probs, const std::string& out_path) {
  const CsvTable info = ReadCsv(info_csv);
  info.Column("ImageID");
  const size_t ans_col = info.Column("ans");
  if (static_cast<int64_t>(info.rows.size()) != probs.rows) {
    throw UserError(info_csv + ": has " + std::to_string(info.rows.size()) +
                    " rows but the predictions have " + std::to_string(probs.rows));
  }
  const std::vector<int> predicted = ArgmaxRows(probs.values, probs.rows, probs.cols);
  const auto parent = std::filesystem::path(out_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  const std::string temporary = out_path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw UserError(out_path + ": cannot write");
    for (size_t c = 0; c < info.header.size(); ++c) out << (c ? "," : "") << info.header[c];
    out << "\n";
    for (size_t r = 0; r < info.rows.size(); ++r) {
      for (size_t c = 0; c < info.header.size(); ++c) {
        out << (c ? "," : "") << (c == ans_col ? std::to_string(predicted[r]) : info.rows[r][c]);
      }
      out << "\n";
    }
    if (!out) throw UserError(out_path + ": write failed");
  }
  std::filesystem::rename(temporary, out_path);
}

namespace {

// Scores ImageID -> predicted class against labels_csv; `source` names the predictions in errors.
SubmissionScore ScoreAgainstLabels(const std::map<std::string, int>& predicted,
                                   const std::string& source, const std::string& labels_csv) {
  const CsvTable labels = ReadCsv(labels_csv);
  const size_t lab_id = labels.Column("ImageID"), lab_ans = labels.Column("ans");
  std::vector<int> truth, guess;
  for (size_t r = 0; r < labels.rows.size(); ++r) {
    const std::string where = labels_csv + ":" + std::to_string(labels.lines[r]);
    auto it = predicted.find(labels.rows[r][lab_id]);
    if (it == predicted.end()) {
      throw UserError(source + ": no prediction for ImageID " + labels.rows[r][lab_id] +
                      " (labelled at " + where + ")");
    }
    truth.push_back(ParseClass(labels.rows[r][lab_ans], where));
    guess.push_back(it->second);
  }
  const ConfusionMatrix confusion = Confusion(truth, guess, kNumClasses);
  return SubmissionScore{static_cast<int64_t>(truth.size()), confusion.Accuracy(),
                         confusion.MacroF1()};
}

}  // namespace

SubmissionScore ScoreSubmission(const std::string& submission_csv, const std::string& labels_csv) {
  const CsvTable submission = ReadCsv(submission_csv);
  const size_t sub_id = submission.Column("ImageID"), sub_ans = submission.Column("ans");
  std::map<std::string, int> predicted;
  for (size_t r = 0; r < submission.rows.size(); ++r) {
    const std::string where = submission_csv + ":" + std::to_string(submission.lines[r]);
    const auto [it, inserted] =
        predicted.emplace(submission.rows[r][sub_id], ParseClass(submission.rows[r][sub_ans], where));
    if (!inserted) throw UserError(where + ": ImageID " + it->first + " appears twice");
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
  for (size_t r = 0; r < info.rows.size(); ++r) predicted[info.rows[r][id_col]] = classes[r];
  return ScoreAgainstLabels(predicted, info_csv + " predictions", labels_csv);
}

}  // namespace ensweep
