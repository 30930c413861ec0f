// Writes a study of N trials straight through Store (the coordinator's own write calls: AddTrial,
// MarkRunning, RecordEpoch, MarkComplete or MarkPruned, MarkFailed), 1,000 trials per
// transaction, so that a 100,000-trial store takes seconds instead of a sweep's minutes. The
// values follow a simulated learning curve of the parameters with seeded noise; a trial is pruned
// at epoch 1 or 3 when its curve there is below the median of the last 201 trials there (as
// ASHA would), 1% fail.
//   make_store STORE TRIALS
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/store.h"
#include "core/study.h"

using namespace ensweep;

namespace {

const char* kStudy = R"(study: dash
trainer: {type: curve, noise: 0.01}
objective: {metric: val_accuracy, direction: maximize}
budget: {trials: TRIALS, epochs: 4}
sampler: {type: random, seed: 0}
pruner: {type: asha, min_epochs: 1, reduction: 3}
space:
  lr: {log_uniform: [0.0001, 0.1]}
  momentum: {uniform: [0.5, 0.99]}
  batch_size: {int: [16, 256]}
  optimizer: {choice: [sgd, adam, rmsprop]}
  dropout: {uniform: [0.0, 0.5]}
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_store STORE TRIALS\n");
    return 2;
  }
  const std::string path = argv[1];
  const int64_t trials = std::stoll(argv[2]);
  std::string text = kStudy;
  text.replace(text.find("TRIALS"), 6, std::to_string(trials));
  text = "storage: " + path + "\n" + text;
  const StudySpec spec = LoadStudyText(text, "make_store", ".");
  auto store = Store::OpenForWriting(path);
  const int64_t study = store->CreateOrUpdateStudy(spec);
  std::mt19937_64 rng(0);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> noise(0, 0.01);
  const char* optimizers[] = {"sgd", "adam", "rmsprop"};
  std::vector<std::vector<double>> at_rung(5);
  for (int64_t n = 0; n < trials;) {
    Store::Batch batch(*store);
    for (int k = 0; k < 1000 && n < trials; ++k, ++n) {
      const double lr = std::exp(std::log(1e-4) + unit(rng) * std::log(1e3));
      const int opt = static_cast<int>(unit(rng) * 3);
      const nlohmann::json params = {{"lr", lr},
                                     {"momentum", 0.5 + 0.49 * unit(rng)},
                                     {"batch_size", 16 + static_cast<int>(unit(rng) * 241)},
                                     {"optimizer", optimizers[opt]},
                                     {"dropout", 0.5 * unit(rng)}};
      const int64_t id = store->AddTrial(study, n, TrialState::kQueued, params, 1000 + n);
      store->MarkRunning(id, "w" + std::to_string(n % 4), params);
      if (unit(rng) < 0.01) {
        store->MarkFailed(id, "simulated failure", 0);
        continue;
      }
      // Best near lr 0.01 with adam; rises with the epochs.
      const double quality = 0.9 - 0.08 * std::pow(std::log10(lr) + 2, 2) - (opt == 1 ? 0 : 0.05) -
                             0.1 * params["dropout"].get<double>();
      double value = 0;
      bool pruned = false;
      int epoch = 1;
      for (; epoch <= 4; ++epoch) {
        value = quality * (1 - std::exp(-epoch / 1.5)) + noise(rng);
        store->RecordEpoch(id, epoch, {{"val_accuracy", value}, {"val_loss", 1 - value}});
        if (epoch == 1 || epoch == 3) {
          // The median of the last 201 values at this rung.
          auto& seen = at_rung[epoch];
          seen.push_back(value);
          if (seen.size() > 201) seen.erase(seen.begin());
          std::vector<double> sorted = seen;
          std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
          if (seen.size() > 10 && value < sorted[sorted.size() / 2]) {
            pruned = true;
            break;
          }
        }
      }
      const MetricMap metrics = {{"val_accuracy", value}, {"val_loss", 1 - value}};
      if (pruned) {
        store->MarkPruned(id, value, metrics, {}, epoch);
      } else {
        store->MarkComplete(id, value, metrics, {}, 4);
      }
    }
    batch.Commit();
  }
  std::printf("%lld trials written to %s\n", static_cast<long long>(trials), path.c_str());
  return 0;
}
