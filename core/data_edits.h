// Label corrections kept beside the data: the study keys `data.exclude: FILE` and
// `data.relabel: FILE` name CSV files in the format `ensweep audit` writes (suspects.csv), and the
// listing (core/listing.h) applies them to the training images it lists. The data itself is never
// modified.
//
//   level,person,image,field,given,suggested,score
//
//   level      person | image
//   person     the person (the group of core/listing.h; for mask data the person folder's name)
//   image      level image: the image's path relative to the training data folder (mask and
//              imagefolder: data.train; csv: the CSV file's folder), '/'-separated; empty for
//              level person
//   field      mask data: mask (per image), gender or age (per person); other formats: label
//   given      the value the data gives (a value name, below)
//   suggested  the value the audit suggests
//   score      0..1, higher = more likely wrong (only read as a number; ignored by the edits)
//
// Value names: mask worn | incorrect | not_worn; gender male | female; age 0-29 | 30-59 | 60+;
// label: a class name of the data.
//
// Exclude: a person row drops every image of the person, an image row that image (field, given
// and suggested are not read). Relabel: the row's field takes the suggested value, on every image
// of the person (level person) or on the one image (level image); the row's given value must be
// what the data says, so that a file written for other data, or applied twice, is refused.
#pragma once

#include <string>
#include <vector>

#include "core/mask_layout.h"
#include "core/study.h"

namespace ensweep {

struct LabelEdit {
  int line = 0;  // in the file, for messages
  bool person_level = true;
  std::string person;
  std::string image;  // level image: relative path, '/'-separated
  std::string field;
  std::string given;
  std::string suggested;
  double score = 0;
};

// The header of the format, in column order.
const std::vector<std::string>& LabelEditColumns();

// Reads a file in the format above. Throws UserError naming file:line for a missing column, an
// unknown level or field, an image row without an image, a person row with one, or a score that is
// not a number.
std::vector<LabelEdit> ReadLabelEdits(const std::string& path);

// Writes `edits` in the format above (score with 4 decimals). Throws std::runtime_error on I/O
// failure.
void WriteLabelEdits(const std::string& path, const std::vector<LabelEdit>& edits);

// Mask data's value names of a field (mask, gender, age), in value order: index v is value v.
const std::vector<std::string>& MaskFieldValues(const std::string& field);
// A mask class's value of `field` (mask, gender, age); and the class with that value replaced.
int MaskFieldOf(int cls, const std::string& field);
int WithMaskField(int cls, const std::string& field, int value);

// The path an edit names an image by: `absolute_path` relative to the training data folder.
std::string TrainRelativePath(const DataSpec& data, const std::string& absolute_path);

struct EditSummary {
  int relabelled_images = 0;
  int excluded_images = 0;
};

// Applies data.relabel, then data.exclude (either may be empty) to `train` (the training listing
// of `data`, labels 0 .. class_names.size() - 1). Throws UserError naming file:line for a person
// or image the listing does not hold, a field the format does not have, an unknown value or a given
// value that differs from the data's; and for edits that leave no image.
EditSummary ApplyDataEdits(const DataSpec& data, const std::vector<std::string>& class_names,
                           std::vector<LabeledImage>& train);

}  // namespace ensweep
