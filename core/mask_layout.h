// The competition's data layout (see shared/seeds/SUMMARY.md), read without decoding any image.
//
//   train/train.csv                      id,gender,race,age,path
//   train/images/<path>/<stem>.<ext>     mask1..mask5 (worn), incorrect_mask, normal (not worn)
//   eval/info.csv                        ImageID,ans
//   eval/images/<ImageID>
//
// Class = mask * 6 + gender * 3 + age, with mask 0 worn / 1 incorrect / 2 not worn, gender 0 male /
// 1 female, age 0 (< 30) / 1 (30 to 59) / 2 (>= 60).
#pragma once

#include <string>
#include <vector>

namespace ensweep {

inline constexpr int kNumClasses = 18;

inline int EncodeClass(int mask, int gender, int age_band) {
  return mask * 6 + gender * 3 + age_band;
}
inline int MaskOf(int cls) { return cls / 6; }
inline int GenderOf(int cls) { return (cls / 3) % 2; }
inline int AgeBandOf(int cls) { return cls % 3; }
inline int AgeBand(int age_years) { return age_years < 30 ? 0 : (age_years < 60 ? 1 : 2); }

// mask1..mask5 -> 0, incorrect_mask -> 1, normal -> 2; -1 for any other stem.
int MaskStateFromStem(const std::string& stem);

// A labelled image of any data format (core/listing.h); for mask data as described here.
struct LabeledImage {
  std::string path;    // absolute
  std::string person;  // the group: for mask the person's folder name, e.g. 000001_female_Asian_45
  int label = 0;       // 0 .. classes - 1 (mask: 0..17)
};

struct EvalImage {
  std::string image_id;  // mask: as in info.csv; other formats: the path (core/listing.h)
  std::string path;      // absolute
};

// Reads train/train.csv and lists every photo of every person, sorted by person then file name.
// Files that are not images (other extensions, macOS "._" files, hidden files) are skipped.
// Throws UserError naming the file and line for a malformed CSV or a missing person folder, and a
// person folder whose photos have unknown stems.
std::vector<LabeledImage> ReadMaskTrain(const std::string& train_dir);

// Reads eval/info.csv in file order; images are expected under eval/images/.
std::vector<EvalImage> ReadMaskEval(const std::string& eval_dir);

// True for the extensions ensweep decodes: .jpg .jpeg .png (any case).
bool HasImageExtension(const std::string& filename);

}  // namespace ensweep
