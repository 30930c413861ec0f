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
  // Every labelled image (core/listing.h): mask sorted by person then file, imagefolder by class
  // then relative path, csv in file order. LabeledImage::person is the image's group.
  std::vector<LabeledImage> train_listing;
  int num_classes = kNumClasses;         // labels are 0 .. num_classes - 1
  std::vector<std::string> class_names;  // one per class (mask: "0" .. "17")
  // split.folds == 1: one train/validation split. split.folds == k > 1: `folds` holds k splits
  // whose validation parts partition the listing (each image is validated by exactly one fold),
  // and `split` is empty.
  SplitIndices split;  // indices into train_listing
  std::vector<SplitIndices> folds;
  ImageCache train_images;              // image i is train_listing[i]
  std::vector<EvalImage> eval_listing;  // eval order (core/listing.h); empty without data.eval
  ImageCache eval_images;               // image i is eval_listing[i]
};

// Lists (core/listing.h), splits and decodes `data`, any format. by: person splits with GroupSplit
// (GroupKFold for folds > 1) on the group: the person folder for mask, stratified on gender and age
// band; the `group` column for csv (each image its own group without one) and the image itself for
// imagefolder, stratified on the class. by: image splits images with ItemSplit (or k image-level
// folds, stratified on the same key). Decoding uses `threads` threads and calls keep_alive
// periodically. Throws std::runtime_error for an unknown split, UserError for unreadable data
// (naming the file) or a split that leaves a side empty.
Dataset LoadDataset(const DataSpec& data, int threads, const std::function<void()>& keep_alive);

// The stratum of a label for person-level splits: gender * 3 + age band (mask state varies within
// a person and must not be part of it).
inline int PersonStratum(int label) { return GenderOf(label) * 3 + AgeBandOf(label); }

}  // namespace ensweep
