// Which training labels look wrong, from out-of-fold class probabilities (every training image
// predicted by a model that did not train on it).
//
// Mask data (18 classes = mask x gender x age, core/mask_layout.h) is audited per field:
//   mask    per image: the image's marginal distribution over the 3 mask states
//   gender  per person: the mean over the person's images of their marginal distributions over
//   age     the field's values (gender and age are properties of the person, the same on all 7
//           photos, so the person is judged on all of them together)
// Other formats have one field, `label`, audited per image over all classes.
//
// Method kConfidentLearning flags the examples off the confident joint's diagonal
// (audit/confident_learning.h) and suggests their confident value; the score is
// 1 - p(given value), in 0..1, higher = more likely wrong. kGivenProbability is the simple
// baseline: every example is listed, scored 1 - p(given value), suggesting the most probable other
// value.
#pragma once

#include <string>
#include <vector>

#include "core/data_edits.h"
#include "core/study.h"

namespace ensweep {

enum class AuditMethod { kConfidentLearning, kGivenProbability };

// One audited training image: its out-of-fold probabilities over the classes.
struct AuditImage {
  std::string path;    // absolute
  std::string person;  // the group
  int label = 0;
  std::vector<double> probs;
};

struct Suspect {
  LabelEdit edit;                   // what suspects.csv holds (core/data_edits.h)
  std::vector<std::string> images;  // absolute paths: the image, or the person's images
  std::vector<std::string> values;  // the field's value names
  std::vector<double> predicted;    // the predicted distribution over `values`
};

struct FieldSummary {
  std::string field;
  bool person_level = false;
  int examples = 0;  // persons or images audited
  int flagged = 0;
  // Share of the examples whose most probable value is the given one: how well the models
  // predict the field. Where it is low, most flags are the models' own mistakes, not wrong labels.
  double accuracy = 0;
  std::vector<double> thresholds;  // per value (confident learning)
};

struct AuditResult {
  std::vector<Suspect> suspects;  // highest score first
  std::vector<FieldSummary> fields;
};

// `mask_fields`: audit the mask data's fields (requires 18 classes); otherwise one `label` field
// over `class_names`. `only`: the fields to audit (mask, gender, age, or label); empty = all,
// std::invalid_argument for a field the data does not have. Image paths in the edits are
// relative to the training folder of `data`.
AuditResult AuditLabels(const std::vector<AuditImage>& images, const DataSpec& data,
                        const std::vector<std::string>& class_names, bool mask_fields,
                        AuditMethod method, const std::vector<std::string>& only = {});

}  // namespace ensweep
