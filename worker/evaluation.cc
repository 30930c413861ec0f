#include "worker/evaluation.h"

#include <fstream>
#include <stdexcept>

#include "core/csv.h"
#include "core/mask_layout.h"
#include "core/metrics.h"

namespace ensweep {
namespace {

void AddTask(const std::string& task, int classes, int (*of)(int), const std::vector<int>& truth,
             const std::vector<int>& predicted, MetricMap& metrics) {
  std::vector<int> t, p;
  for (size_t i = 0; i < truth.size(); ++i) {
    t.push_back(of(truth[i]));
    p.push_back(of(predicted[i]));
  }
  const ConfusionMatrix confusion = Confusion(t, p, classes);
  metrics["val_" + task + "_accuracy"] = confusion.Accuracy();
  metrics["val_" + task + "_f1"] = confusion.MacroF1();
}

}  // namespace

MetricMap ValidationMetrics(const std::vector<float>& probs, const std::vector<int>& truth,
                            int num_classes, bool mask_tasks) {
  if (num_classes < 1 || probs.size() != truth.size() * static_cast<size_t>(num_classes)) {
    throw std::invalid_argument("ValidationMetrics: " + std::to_string(probs.size()) +
                                " probabilities for " + std::to_string(truth.size()) + " rows of " +
                                std::to_string(num_classes) + " classes");
  }
  if (mask_tasks && num_classes != kNumClasses) {
    throw std::invalid_argument("ValidationMetrics: mask tasks need 18 classes");
  }
  const int64_t rows = static_cast<int64_t>(truth.size());
  const std::vector<int> predicted = ArgmaxRows(probs, rows, num_classes);
  const ConfusionMatrix confusion = Confusion(truth, predicted, num_classes);
  MetricMap metrics = {{"val_loss", LogLoss(probs, num_classes, truth)},
                       {"val_accuracy", confusion.Accuracy()},
                       {"val_macro_f1", confusion.MacroF1()}};
  if (mask_tasks) {
    AddTask("mask", 3, MaskOf, truth, predicted, metrics);
    AddTask("gender", 2, GenderOf, truth, predicted, metrics);
    AddTask("age", 3, AgeBandOf, truth, predicted, metrics);
  }
  return metrics;
}

void WriteConfusionCsv(const std::string& path, const std::vector<float>& probs,
                       const std::vector<int>& truth, const std::vector<std::string>& class_names) {
  const int classes = static_cast<int>(class_names.size());
  const ConfusionMatrix confusion =
      Confusion(truth, ArgmaxRows(probs, static_cast<int64_t>(truth.size()), classes), classes);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "truth";
  for (const std::string& name : class_names) out << ',' << CsvField(name);
  out << '\n';
  for (int t = 0; t < classes; ++t) {
    out << CsvField(class_names[static_cast<size_t>(t)]);
    for (int c = 0; c < classes; ++c) out << ',' << confusion.count(t, c);
    out << '\n';
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace ensweep
