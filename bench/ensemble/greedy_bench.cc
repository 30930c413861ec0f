// Times ensemble selection on synthetic candidate probabilities.
//
//   greedy_bench [--candidates N] [--rows R] [--classes K] [--rounds n] [--threads t]
//                [--metric macro_f1|log_loss|weights] [--repeats r] [--seed s]
//                [--shared-noise x]   (default 1.5; smaller: easier data, fewer close calls)
//                [--dump DIR]   (also write the data and the first run's selection for the NumPy
//                                peer, bench/ensemble/numpy_peer.py)
//
// Candidates are softmaxes of seeded logits: a per-row noise shared by every candidate (real models
// make correlated mistakes, so averaging cannot remove it), plus each candidate's own noise, plus
// a nudge toward the true class by the candidate's own skill; selection has real choices to make.
// Prints one line per repeat and the median. The data generation is not timed; the selection
// (GreedySelect, or OptimizeWeights for "weights") is.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "ensemble/greedy.h"
#include "ensemble/weight_optimizer.h"

using namespace ensweep;

namespace {

CandidateStack MakeStack(int64_t candidates, int64_t rows, int64_t cols, double shared_noise,
                         uint64_t seed) {
  Rng rng(seed);
  CandidateStack s;
  s.candidates = candidates;
  s.rows = rows;
  s.cols = cols;
  for (int64_t r = 0; r < rows; ++r) s.labels.push_back(static_cast<int>(rng.Below(cols)));
  std::vector<double> shared(static_cast<size_t>(rows * cols));
  for (double& v : shared) v = shared_noise * rng.Normal();
  s.probs.resize(static_cast<size_t>(candidates * rows * cols));
  std::vector<double> e(static_cast<size_t>(cols));
  for (int64_t c = 0; c < candidates; ++c) {
    const double skill = 0.5 + 1.5 * rng.Uniform();
    for (int64_t r = 0; r < rows; ++r) {
      double total = 0;
      for (int64_t k = 0; k < cols; ++k) {
        e[k] = std::exp(shared[r * cols + k] + rng.Normal() + (k == s.labels[r] ? skill : 0.0));
        total += e[k];
      }
      float* out = &s.probs[(c * rows + r) * cols];
      for (int64_t k = 0; k < cols; ++k) out[k] = static_cast<float>(e[k] / total);
    }
  }
  return s;
}

// The data and bag 0's selection, for bench/ensemble/numpy_peer.py: raw float32 probabilities
// (candidates x rows x classes, C order), raw int32 labels, the shape, and the picks and
// per-round scores of the selection.
void Dump(const std::string& dir, const CandidateStack& s, const GreedyResult& g) {
  std::ofstream(dir + "/shape.txt") << s.candidates << " " << s.rows << " " << s.cols << "\n";
  std::ofstream probs(dir + "/probs.f32", std::ios::binary);
  probs.write(reinterpret_cast<const char*>(s.probs.data()),
              static_cast<std::streamsize>(s.probs.size() * sizeof(float)));
  std::ofstream labels(dir + "/labels.i32", std::ios::binary);
  for (int label : s.labels) {
    const int32_t v = label;
    labels.write(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  std::ofstream picks(dir + "/ensweep_selection.txt");
  picks.precision(17);
  for (size_t i = 0; i < g.all_picks.size(); ++i) {
    picks << g.all_picks[i] << " " << g.trajectory[i] << "\n";
  }
  if (!probs || !labels || !picks) {
    std::fprintf(stderr, "cannot write the dump into %s\n", dir.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t candidates = 1000, rows = 4000, classes = 18;
  int rounds = 50, threads = 2, repeats = 5;
  uint64_t seed = 1;
  double shared_noise = 1.5;
  std::string metric = "macro_f1";
  std::string dump;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--candidates")
      candidates = std::atoll(value);
    else if (key == "--rows")
      rows = std::atoll(value);
    else if (key == "--classes")
      classes = std::atoll(value);
    else if (key == "--rounds")
      rounds = std::atoi(value);
    else if (key == "--threads")
      threads = std::atoi(value);
    else if (key == "--repeats")
      repeats = std::atoi(value);
    else if (key == "--seed")
      seed = std::strtoull(value, nullptr, 10);
    else if (key == "--shared-noise")
      shared_noise = std::atof(value);
    else if (key == "--metric")
      metric = value;
    else if (key == "--dump")
      dump = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  const CandidateStack stack = MakeStack(candidates, rows, classes, shared_noise, seed);
  std::vector<double> seconds, cpu_seconds;  // cpu: all threads together
  GreedyResult first;                        // the first run's selection, for --dump
  for (int rep = 0; rep < repeats; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    size_t members = 0;
    double score = 0;
    if (metric == "weights") {
      const WeightResult w = OptimizeWeights(stack, WeightOptions{});
      members = static_cast<size_t>(
          std::count_if(w.weights.begin(), w.weights.end(), [](double v) { return v > 0; }));
      score = w.final_log_loss;
    } else {
      GreedyOptions options;
      options.rounds = rounds;
      options.threads = threads;
      options.metric = metric == "log_loss" ? SelectionMetric::kLogLoss : SelectionMetric::kMacroF1;
      const GreedyResult g = GreedySelect(stack, options);
      members = g.picks.size();
      score = *std::max_element(g.trajectory.begin(), g.trajectory.end());
      if (options.metric == SelectionMetric::kLogLoss) {
        score = *std::min_element(g.trajectory.begin(), g.trajectory.end());
      }
      if (rep == 0) first = g;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    seconds.push_back(elapsed);
    cpu_seconds.push_back(cpu);
    if (!dump.empty() && rep == 0 && metric == "macro_f1") Dump(dump, stack, first);
    std::printf("run %d: %.3f s wall, %.3f s cpu (picks kept %zu, score %.4f)\n", rep + 1, elapsed,
                cpu, members, score);
  }
  std::sort(seconds.begin(), seconds.end());
  std::sort(cpu_seconds.begin(), cpu_seconds.end());
  std::printf(
      "median %.3f s wall, %.3f s cpu: %s, %lld candidates x %lld rows x %lld classes, %d rounds, "
      "%d threads\n",
      seconds[seconds.size() / 2], cpu_seconds[cpu_seconds.size() / 2], metric.c_str(),
      static_cast<long long>(candidates), static_cast<long long>(rows),
      static_cast<long long>(classes), rounds, threads);
  return 0;
}
