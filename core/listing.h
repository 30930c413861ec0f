// One listing of a study's data for every `data.format`, read without decoding any image: the
// labelled training images (path, group, class), the class names and the eval images.
//
//   mask         the competition layout (core/mask_layout.h); 18 classes named "0" .. "17"; the
//                group of an image is its person; eval: a folder with info.csv and images/.
//   imagefolder  train: root/<class>/<image> (images may sit in sub-folders of the class folder);
//                classes are the class folders sorted by name, as torchvision's ImageFolder does;
//                the group of an image is the image itself, so `split.by: person` splits images.
//                eval: a folder of images, listed recursively and sorted by relative path.
//   csv          train: a CSV file with a header and the columns path,label and optionally group;
//                paths are relative to the CSV file's folder (or absolute); labels are class
//                names, classes sorted by name; the group of an image is its `group` value, or the
//                image itself without that column. eval: a CSV file with a `path` column.
//
// Files that are not images (other extensions, macOS "._" files, hidden files) are skipped in
// folders; in a CSV they are an error. The eval image id is the image's path relative to the eval
// folder (imagefolder) or as written in the eval CSV (csv); info.csv's ImageID for mask.
#pragma once

#include <string>
#include <vector>

#include "core/mask_layout.h"
#include "core/study.h"

namespace ensweep {

struct DataListing {
  // Every labelled image; LabeledImage::person holds the image's group. Order: mask: by person
  // then file; imagefolder: by class then relative path; csv: the file's row order.
  std::vector<LabeledImage> train;
  std::vector<std::string> class_names;  // label c is class_names[c]
  std::vector<EvalImage> eval;           // empty when data.eval is empty

  int num_classes() const { return static_cast<int>(class_names.size()); }
};

// Lists the training data and, when data.eval is set, the eval data. Throws UserError naming the
// file (and line, for CSV files) for unreadable or malformed data, e.g. a missing column, an empty
// label, a missing image file, a class folder without images.
DataListing ListData(const DataSpec& data);

// Only the eval images of `data` (data.eval must be set), in eval order.
std::vector<EvalImage> ListEvalImages(const DataSpec& data);

// Only the class names (the same as ListData(data).class_names, without listing every image where
// the format allows it).
std::vector<std::string> ListClassNames(const DataSpec& data);

// Checks that data.train (and data.eval, if set) exist with the shape the format expects: a
// folder (mask: holding train.csv; eval: info.csv) or, for csv, a file. Throws UserError whose
// message starts with `where`.
void CheckDataPaths(const DataSpec& data, const std::string& where);

}  // namespace ensweep
