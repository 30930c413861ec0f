// A tiny competition-format data set for whole trials in the worker tests, generated once per
// test binary and removed at exit, and a study that trains on it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/study.h"
#include "datagen/mask_generator.h"
#include "tests/scratch_dir.h"

namespace ensweep::test {

struct TinyMaskData {
  std::filesystem::path root;
  DatagenSummary summary;

  // `people` training and `eval_people` eval persons at 32x40 under a folder named after `tag`.
  TinyMaskData(const std::string& tag, int people, int eval_people, uint64_t seed)
      : root(FreshDir("ensweep_" + tag, "data")) {
    DatagenOptions options;
    options.people = people;
    options.eval_people = eval_people;
    options.width = 32;
    options.height = 40;
    options.seed = seed;
    summary = GenerateMaskDataset(root.string(), options);
  }
  TinyMaskData(const TinyMaskData&) = delete;
  TinyMaskData& operator=(const TinyMaskData&) = delete;

  // A study named `name` on this data at its own size, a quarter of the persons for validation.
  StudySpec Study(const std::string& name) const {
    StudySpec study;
    study.name = name;
    study.data.format = DataFormat::kMask;
    study.data.train = (root / "train").string();
    study.data.eval = (root / "eval").string();
    study.data.width = 32;
    study.data.height = 40;
    study.data.split.val_fraction = 0.25;
    return study;
  }
};

}  // namespace ensweep::test
