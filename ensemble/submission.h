// Submission files and local scoring.
//
// mask data: a submission is eval/info.csv with `ans` filled: same columns, same rows, same order;
// `ans` is the class 0..17 (core/mask_layout.h).
// imagefolder and csv data: a CSV `path,label` with one row per eval image in eval order
// (core/listing.h): path is the eval image id (its path relative to the eval folder or as written
// in the eval CSV), label the predicted class name.
#pragma once

#include <string>
#include <vector>

#include "core/npy.h"
#include "core/study.h"

namespace ensweep {

// What a study's submission is written for.
struct SubmissionTarget {
  std::string info_csv;                  // mask: eval/info.csv; empty for the other formats
  std::vector<std::string> image_ids;    // other formats: the eval image ids, in eval order
  std::vector<std::string> class_names;  // other formats: probability column c is class_names[c]
};

// From the study's data (data.eval must be set): info.csv for mask; otherwise the core listing's
// eval image ids and class names. Throws UserError for unreadable data.
SubmissionTarget SubmissionTargetFor(const DataSpec& data);

// Writes the submission for `target` from `probs` (eval rows x classes): info.csv's rows with ans
// filled, or path,label rows. Throws UserError if the row counts differ, the column count is not
// the number of class names, or info.csv has no ImageID/ans columns.
void WriteSubmission(const SubmissionTarget& target, const Matrix& probs,
                     const std::string& out_path);

// Writes `out_path` from `info_csv` (its header and rows kept) with ans = argmax of each row of
// `probs`. Throws UserError if the row counts differ or info.csv has no ImageID/ans columns.
void WriteSubmission(const std::string& info_csv, const Matrix& probs, const std::string& out_path);

struct SubmissionScore {
  int64_t rows = 0;  // labelled images scored
  double accuracy = 0;
  double macro_f1 = 0;
  int64_t unlabelled = 0;  // predictions for images the labels file does not list (not scored)
};

// Scores a submission against a labels file: ImageID,ans (mask) or path,label (class names; the
// format is told by the submission's header). Macro F1 is scikit-learn's f1_score(average="macro"),
// the competition's score: the mean over the classes (0..17, or class names) that occur in the
// labels or in the scored predictions (core/metrics.h). Throws UserError naming the file and line
// for a labels file with no rows, an image labelled twice, a submission row repeated, a bad class;
// and naming the missing images (the first five and how many) when labelled images have no
// submission row: a submission must cover every labelled image. Submission rows the labels do not
// list are allowed and counted in `unlabelled`.
SubmissionScore ScoreSubmission(const std::string& submission_csv, const std::string& labels_csv);

// Scores class probabilities whose rows follow `info_csv` (as a submission would be written from
// them) against a labels file, without writing a submission. Same errors as ScoreSubmission, an
// ImageID repeated in info_csv among them.
SubmissionScore ScorePredictions(const std::string& info_csv, const Matrix& probs,
                                 const std::string& labels_csv);

// The same for any target: rows follow target's eval order; labels ImageID,ans (mask) or
// path,label (other formats).
SubmissionScore ScorePredictions(const SubmissionTarget& target, const Matrix& probs,
                                 const std::string& labels_csv);

}  // namespace ensweep
