// Synthetic data in exactly the competition's layout (see core/mask_layout.h).
//
// Each person has a consistent identity across their 7 photos (face shape, skin tone, hair,
// background); the mask state is drawn on the face (worn covers nose and mouth, incorrect leaves
// the nose out, not worn shows both); gender and age have visible cues, age subtle and continuous
// so that it is the hardest of the three; class balance follows the competition (few >= 60). Every
// photo gets its own jitter. Output is a pure function of the options: same seed, same bytes.
//
//   <out>/train/train.csv
//   <out>/train/images/<id>_<gender>_Asian_<age>/{mask1..5,incorrect_mask,normal}.<ext>
//   <out>/eval/info.csv (ans = 0), <out>/eval/images/<40-hex id>.<ext>
//   <out>/eval_labels.csv         ImageID,ans (the hidden eval labels, for `ensweep score`)
//   <out>/train_label_noise.csv   path,given_label,true_label of deliberately wrong labels
//   <out>/datagen.json            the options and seed used
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace ensweep {

struct DatagenOptions {
  int people = 200;      // training persons (7 photos each)
  int eval_people = -1;  // eval persons; -1: people / 2 (at least 1)
  int width = 384;       // photo size in pixels, as in the competition
  int height = 512;
  double label_noise = 0.0;  // fraction of training persons given a wrong gender or age label
  uint64_t seed = 0;
};

struct DatagenSummary {
  int train_people = 0;
  int train_images = 0;
  int eval_images = 0;
  int noisy_labels = 0;  // photos with a wrong label (rows of train_label_noise.csv)
};

// Writes the data set under out_dir (created; existing generated files are overwritten).
// progress(done, total) is called as persons are written, if given, always on the calling thread
// (total = training + eval persons; persons are drawn on all cores). Throws UserError on bad
// options, naming the option.
DatagenSummary GenerateMaskDataset(const std::string& out_dir, const DatagenOptions& options,
                                   const std::function<void(int, int)>& progress = {});

}  // namespace ensweep
