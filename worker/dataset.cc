#include "worker/dataset.h"

#include <chrono>
#include <stdexcept>

#include "core/error.h"
#include "core/listing.h"
#include "core/log.h"

namespace ensweep {
namespace {

ImageCache DecodeAll(const std::vector<std::string>& paths, const DataSpec& data, int threads,
                     const std::function<void()>& keep_alive, const char* what) {
  const auto start = std::chrono::steady_clock::now();
  ImageCache cache = ImageCache::Decode(paths, data.width, data.height, threads, keep_alive);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log(LogLevel::kInfo, "decoded ", paths.size(), " ", what, " images at ", data.width, "x",
      data.height, " in ", seconds, " s (", cache.size() * cache.image_bytes() / (1 << 20),
      " MiB kept in memory)");
  return cache;
}

}  // namespace

Dataset LoadDataset(const DataSpec& data, int threads, const std::function<void()>& keep_alive) {
  Dataset dataset;
  DataListing listing = ListData(data);
  dataset.train_listing = std::move(listing.train);
  dataset.class_names = std::move(listing.class_names);
  dataset.num_classes = static_cast<int>(dataset.class_names.size());
  dataset.eval_listing = std::move(listing.eval);
  const bool mask = data.format == DataFormat::kMask;
  std::vector<std::string> groups;
  std::vector<int> strata;
  groups.reserve(dataset.train_listing.size());
  strata.reserve(dataset.train_listing.size());
  for (size_t i = 0; i < dataset.train_listing.size(); ++i) {
    const LabeledImage& image = dataset.train_listing[i];
    // by: image makes every image its own group.
    groups.push_back(data.split.by == SplitBy::kImage ? std::to_string(i) : image.person);
    strata.push_back(mask ? PersonStratum(image.label) : image.label);
  }
  const int k = data.split.folds;
  if (k > 1) {
    dataset.folds = GroupKFold(groups, strata, k, data.split.seed);
  } else if (data.split.by == SplitBy::kImage) {
    dataset.split = ItemSplit(static_cast<int64_t>(dataset.train_listing.size()),
                              data.split.val_fraction, data.split.seed);
  } else {
    dataset.split = GroupSplit(groups, strata, data.split.val_fraction, data.split.seed);
  }
  for (const SplitIndices& s : k > 1 ? dataset.folds : std::vector<SplitIndices>{dataset.split}) {
    if (s.train.empty() || s.val.empty()) {
      throw UserError("the split of " + data.train + " left " + std::to_string(s.train.size()) +
                      " training and " + std::to_string(s.val.size()) +
                      " validation images; both must be non-empty (more " +
                      (mask ? "persons" : "images or groups") +
                      ", another val_fraction or fewer folds)");
    }
  }

  std::vector<std::string> paths;
  paths.reserve(dataset.train_listing.size());
  for (const LabeledImage& image : dataset.train_listing) paths.push_back(image.path);
  dataset.train_images = DecodeAll(paths, data, threads, keep_alive, "training");

  if (!dataset.eval_listing.empty()) {
    paths.clear();
    for (const EvalImage& image : dataset.eval_listing) paths.push_back(image.path);
    dataset.eval_images = DecodeAll(paths, data, threads, keep_alive, "eval");
  }
  return dataset;
}

}  // namespace ensweep
