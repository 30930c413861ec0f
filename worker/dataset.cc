#include "worker/dataset.h"

#include <chrono>
#include <stdexcept>

#include "core/error.h"
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
  if (data.format != "mask") {
    throw std::runtime_error("data format " + data.format + " is not supported yet");
  }
  if (data.split.folds != 1) {
    throw std::runtime_error("split.folds = " + std::to_string(data.split.folds) +
                             " is not supported yet (only a single train/validation split)");
  }
  Dataset dataset;
  dataset.train_listing = ReadMaskTrain(data.train);
  if (dataset.train_listing.empty()) {
    throw UserError("no training images found under " + data.train);
  }
  if (data.split.by == "image") {
    dataset.split = ItemSplit(static_cast<int64_t>(dataset.train_listing.size()),
                              data.split.val_fraction, data.split.seed);
  } else if (data.split.by == "person") {
    std::vector<std::string> persons;
    std::vector<int> strata;
    persons.reserve(dataset.train_listing.size());
    strata.reserve(dataset.train_listing.size());
    for (const LabeledImage& image : dataset.train_listing) {
      persons.push_back(image.person);
      strata.push_back(PersonStratum(image.label));
    }
    dataset.split = GroupSplit(persons, strata, data.split.val_fraction, data.split.seed);
  } else {
    throw std::runtime_error("split by " + data.split.by + " is not supported");
  }
  if (dataset.split.train.empty() || dataset.split.val.empty()) {
    throw UserError("the split of " + data.train + " left " +
                    std::to_string(dataset.split.train.size()) + " training and " +
                    std::to_string(dataset.split.val.size()) +
                    " validation images; both must be non-empty (more persons or another "
                    "val_fraction)");
  }

  std::vector<std::string> paths;
  paths.reserve(dataset.train_listing.size());
  for (const LabeledImage& image : dataset.train_listing) paths.push_back(image.path);
  dataset.train_images = DecodeAll(paths, data, threads, keep_alive, "training");

  if (!data.eval.empty()) {
    dataset.eval_listing = ReadMaskEval(data.eval);
    paths.clear();
    for (const EvalImage& image : dataset.eval_listing) paths.push_back(image.path);
    dataset.eval_images = DecodeAll(paths, data, threads, keep_alive, "eval");
  }
  return dataset;
}

}  // namespace ensweep
