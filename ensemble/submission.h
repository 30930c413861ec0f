// The competition's submission file and local scoring.
//
// A submission is eval/info.csv with `ans` filled: same columns, same rows, same order; `ans` is
// the class 0..17 (core/mask_layout.h).
#pragma once

#include <string>
#include <vector>

#include "core/npy.h"

namespace ensweep {

// Writes `out_path` from `info_csv` (its header and rows kept) with ans = argmax of each row of
// `probs`. Throws UserError if the row counts differ or info.csv has no ImageID/ans columns.
void WriteSubmission(const std::string& info_csv, const Matrix& probs, const std::string& out_path);

struct SubmissionScore {
  int64_t rows = 0;
  double accuracy = 0;
  double macro_f1 = 0;
};

// Scores a submission against a labels file (ImageID,ans). Every labelled image must appear in
// the submission exactly once; throws UserError naming the file and line otherwise.
SubmissionScore ScoreSubmission(const std::string& submission_csv, const std::string& labels_csv);

// Scores class probabilities whose rows follow `info_csv` (as a submission would be written from
// them) against a labels file, without writing a submission. Same errors as ScoreSubmission.
SubmissionScore ScorePredictions(const std::string& info_csv, const Matrix& probs,
                                 const std::string& labels_csv);

}  // namespace ensweep
