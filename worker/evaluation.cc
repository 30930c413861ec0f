#include "worker/evaluation.h"

#include <fstream>
#include <stdexcept>

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

MetricMap ValidationMetrics(const std::vector<float>& probs, const std::vector<int>& truth) {
  const int64_t rows = static_cast<int64_t>(truth.size());
  const std::vector<int> predicted = ArgmaxRows(probs, rows, kNumClasses);
  const ConfusionMatrix confusion = Confusion(truth, predicted, kNumClasses);
  MetricMap metrics = {{"val_loss", LogLoss(probs, kNumClasses, truth)},
                       {"val_accuracy", confusion.Accuracy()},
                       {"val_macro_f1", confusion.MacroF1()}};
  AddTask("mask", 3, MaskOf, truth, predicted, metrics);
  AddTask("gender", 2, GenderOf, truth, predicted, metrics);
  AddTask("age", 3, AgeBandOf, truth, predicted, metrics);
  return metrics;
}

void WriteConfusionCsv(const std::string& path, const std::vector<float>& probs,
                       const std::vector<int>& truth) {
  const ConfusionMatrix confusion = Confusion(
      truth, ArgmaxRows(probs, static_cast<int64_t>(truth.size()), kNumClasses), kNumClasses);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "truth";
  for (int c = 0; c < kNumClasses; ++c) out << ',' << c;
  out << '\n';
  for (int t = 0; t < kNumClasses; ++t) {
    out << t;
    for (int c = 0; c < kNumClasses; ++c) out << ',' << confusion.count(t, c);
    out << '\n';
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace ensweep
