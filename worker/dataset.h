// A study's data as a worker holds it: the listing, the train/validation split and every image
// decoded at the model's input size.
//
// Loaded once per worker (the first trial pays for it) and shared read-only by every trial.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/mask_layout.h"
#include "core/split.h"
#include "core/study.h"
#include "worker/image_cache.h"

namespace ensweep {

struct Dataset {
  std::vector<LabeledImage> train_listing;  // every labelled image, sorted by person then file
  SplitIndices split;                       // indices into train_listing
  ImageCache train_images;                  // image i is train_listing[i]
  std::vector<EvalImage> eval_listing;      // info.csv order; empty without data.eval
  ImageCache eval_images;                   // image i is eval_listing[i]
};

// Lists, splits and decodes `data` (format "mask"; folds == 1). by: person splits with GroupSplit
// on the person folder, stratified on gender and age band; by: image with ItemSplit. Decoding uses
// `threads` threads and calls keep_alive periodically. Throws std::runtime_error for a format or
// fold count not supported yet, UserError for unreadable data (naming the file).
Dataset LoadDataset(const DataSpec& data, int threads, const std::function<void()>& keep_alive);

// The stratum of a label for person-level splits: gender * 3 + age band (mask state varies within
// a person and must not be part of it).
inline int PersonStratum(int label) { return GenderOf(label) * 3 + AgeBandOf(label); }

}  // namespace ensweep
