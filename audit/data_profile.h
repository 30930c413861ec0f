// A profile of a study's training and eval images without training: per class and per field
// counts, image sizes and formats, exact duplicates (same bytes) and near duplicates (a 64-bit
// difference hash of a 9x8 grey thumbnail within `near_bits` bits), within and across the sets,
// and files that cannot be decoded. Images are decoded as training decodes
// them (datagen/image_decode.h, no torch), so a file the profile reads is one a trial can read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/mask_layout.h"

namespace ensweep {

struct ImageFacts {
  std::string set;     // train | eval
  std::string path;    // absolute
  std::string person;  // train: the group; eval: empty (eval images name no person)
  std::string format;  // jpeg | png | unknown (from the first bytes)
  int width = 0, height = 0;
  uint64_t bytes = 0;
  uint64_t content_hash = 0;  // FNV-1a 64 of the file's bytes
  uint64_t dhash = 0;         // difference hash; valid when readable
  bool readable = false;
  std::string error;  // why not readable
};

struct DuplicatePair {
  bool exact = false;
  int distance = 0;     // dHash bits that differ (0 for exact)
  size_t a = 0, b = 0;  // indices into DataProfile::images, a < b
};

// Orders value names as a reader expects: whole numbers by their value ("2" before "10", as mask
// data's classes 0..17 are named), before any other name; other names as text.
struct ValueNameLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

struct DataProfile {
  std::vector<ImageFacts> images;  // train first, then eval
  // counts[set][field][value]: field "class" (class names), and for mask data mask/gender/age
  // (train: per image from the labels; eval: from `eval_labels` when given).
  std::map<std::string, std::map<std::string, std::map<std::string, int, ValueNameLess>>> counts;
  std::vector<DuplicatePair> duplicates;
  std::string eval_counts_source;  // where the eval counts come from, or why there are none
};

// Profiles `train` and `eval`. `eval_labels` (one class per eval image, e.g. the newest ensemble's
// predictions) is optional. progress(done, total) is called as images are read.
DataProfile ProfileData(const std::vector<LabeledImage>& train, const std::vector<EvalImage>& eval,
                        const std::vector<std::string>& class_names, bool mask_fields,
                        const std::optional<std::vector<int>>& eval_labels, int near_bits,
                        const std::function<void(size_t, size_t)>& progress = {});

// Writes <dir>/data_profile.html, <dir>/counts.csv (set,field,value,count),
// <dir>/images.csv (set,path,person,format,width,height,bytes,readable,error) and
// <dir>/duplicates.csv (kind,distance,set_a,path_a,set_b,path_b).
void WriteDataProfile(const std::string& dir, const DataProfile& profile, const std::string& title);

}  // namespace ensweep
