#include "audit/label_audit.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "audit/confident_learning.h"
#include "core/mask_layout.h"

namespace ensweep {
namespace {

// The examples of one field: a distribution over its values and a given value each.
struct FieldExamples {
  std::string field;
  bool person_level = false;
  std::vector<std::string> values;
  std::vector<std::vector<size_t>> images;  // per example: indices into the audited images
  std::vector<double> probs;                // examples x values
  std::vector<int> given;
};

// The distribution of a mask data field on one image, from its 18 class probabilities.
std::vector<double> Marginal(const std::vector<double>& probs, const std::string& field,
                             size_t values) {
  std::vector<double> out(values, 0.0);
  for (int c = 0; c < kNumClasses; ++c) {
    out[static_cast<size_t>(MaskFieldOf(c, field))] += probs[static_cast<size_t>(c)];
  }
  return out;
}

FieldExamples PerImage(const std::vector<AuditImage>& images, const std::string& field,
                       const std::vector<std::string>& values) {
  FieldExamples ex{field, false, values, {}, {}, {}};
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<double> p =
        field == "label" ? images[i].probs : Marginal(images[i].probs, field, values.size());
    ex.images.push_back({i});
    ex.probs.insert(ex.probs.end(), p.begin(), p.end());
    ex.given.push_back(field == "label" ? images[i].label : MaskFieldOf(images[i].label, field));
  }
  return ex;
}

// A person's distribution: the mean of the marginals of their images; the given value is their
// first image's (the same on all of them unless relabelled image by image).
FieldExamples PerPerson(const std::vector<AuditImage>& images, const std::string& field) {
  FieldExamples ex{field, true, MaskFieldValues(field), {}, {}, {}};
  std::map<std::string, size_t> person_index;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto [it, added] = person_index.emplace(images[i].person, ex.images.size());
    if (added) ex.images.emplace_back();
    ex.images[it->second].push_back(i);
  }
  const size_t k = ex.values.size();
  for (const auto& members : ex.images) {
    std::vector<double> mean(k, 0.0);
    for (const size_t i : members) {
      const std::vector<double> p = Marginal(images[i].probs, field, k);
      for (size_t v = 0; v < k; ++v) mean[v] += p[v] / static_cast<double>(members.size());
    }
    ex.probs.insert(ex.probs.end(), mean.begin(), mean.end());
    ex.given.push_back(MaskFieldOf(images[members.front()].label, field));
  }
  return ex;
}

Suspect MakeSuspect(const FieldExamples& ex, size_t e, int suggested, double score,
                    const std::vector<AuditImage>& images, const DataSpec& data) {
  Suspect s;
  const AuditImage& first = images[ex.images[e].front()];
  s.edit.person_level = ex.person_level;
  s.edit.person = first.person;
  s.edit.image = ex.person_level ? "" : TrainRelativePath(data, first.path);
  s.edit.field = ex.field;
  s.edit.given = ex.values[static_cast<size_t>(ex.given[e])];
  s.edit.suggested = ex.values[static_cast<size_t>(suggested)];
  s.edit.score = score;
  for (const size_t i : ex.images[e]) s.images.push_back(images[i].path);
  s.values = ex.values;
  const size_t k = ex.values.size();
  s.predicted.assign(ex.probs.begin() + static_cast<std::ptrdiff_t>(e * k),
                     ex.probs.begin() + static_cast<std::ptrdiff_t>((e + 1) * k));
  return s;
}

FieldSummary AuditField(const FieldExamples& ex, AuditMethod method,
                        const std::vector<AuditImage>& images, const DataSpec& data,
                        std::vector<Suspect>& out) {
  FieldSummary summary{ex.field, ex.person_level, static_cast<int>(ex.given.size()), 0, 0, {}};
  const ConfidentLearning cl =
      FindLabelIssues(ex.probs, ex.given, static_cast<int>(ex.values.size()));
  summary.thresholds = cl.thresholds;
  // The given value is the most probable one where it beats every other: a positive margin.
  const auto agree =
      std::count_if(cl.margin.begin(), cl.margin.end(), [](double m) { return m > 0; });
  if (!cl.margin.empty()) summary.accuracy = static_cast<double>(agree) / cl.margin.size();
  if (method == AuditMethod::kConfidentLearning) {
    for (const int64_t issue : cl.issues) {
      const size_t e = static_cast<size_t>(issue);
      out.push_back(MakeSuspect(ex, e, cl.confident[e], 1.0 - cl.self_confidence[e], images, data));
    }
    summary.flagged = static_cast<int>(cl.issues.size());
    return summary;
  }
  for (size_t e = 0; e < ex.given.size(); ++e) {
    out.push_back(MakeSuspect(ex, e, cl.best_other[e], 1.0 - cl.self_confidence[e], images, data));
  }
  summary.flagged = static_cast<int>(ex.given.size());
  return summary;
}

}  // namespace

AuditResult AuditLabels(const std::vector<AuditImage>& images, const DataSpec& data,
                        const std::vector<std::string>& class_names, bool mask_fields,
                        AuditMethod method, const std::vector<std::string>& only) {
  if (mask_fields && class_names.size() != static_cast<size_t>(kNumClasses)) {
    throw std::invalid_argument("mask fields need the 18 mask classes");
  }
  const std::vector<std::string> names = mask_fields
                                             ? std::vector<std::string>{"mask", "gender", "age"}
                                             : std::vector<std::string>{"label"};
  for (const std::string& f : only) {
    if (std::find(names.begin(), names.end(), f) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("no field '" + f + "' in this data (its fields: " + known + ")");
    }
  }
  const auto wanted = [&](const std::string& f) {
    return only.empty() || std::find(only.begin(), only.end(), f) != only.end();
  };
  std::vector<FieldExamples> fields;
  if (mask_fields) {
    if (wanted("mask")) fields.push_back(PerImage(images, "mask", MaskFieldValues("mask")));
    if (wanted("gender")) fields.push_back(PerPerson(images, "gender"));
    if (wanted("age")) fields.push_back(PerPerson(images, "age"));
  } else {
    fields.push_back(PerImage(images, "label", class_names));
  }
  AuditResult result;
  for (const FieldExamples& ex : fields) {
    result.fields.push_back(AuditField(ex, method, images, data, result.suspects));
  }
  std::stable_sort(result.suspects.begin(), result.suspects.end(),
                   [](const Suspect& a, const Suspect& b) { return a.edit.score > b.edit.score; });
  return result;
}

}  // namespace ensweep
