#include "ensemble/greedy.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "core/metrics.h"
#include "core/parallel_for.h"
#include "core/rng.h"

namespace ensweep {
namespace {

// Per (candidate, row) values that do not change during a selection.
struct RowSummaries {
  std::vector<float> truth_prob;  // candidates x rows: P_c[r][label of r]
  std::vector<double> alone_f1;   // candidates: macro F1 of the candidate on its own
};

// max_{k != top} row[k] - row[top]: how far the row could move a blend's top class away from top.
float Headroom(const float* row, int64_t cols, int top) {
  float other = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < cols; ++k) {
    if (k != top) other = std::max(other, row[k]);
  }
  return other - row[top];
}

RowSummaries Summarise(const CandidateStack& s, int threads) {
  RowSummaries out;
  out.truth_prob.resize(static_cast<size_t>(s.candidates * s.rows));
  out.alone_f1.resize(static_cast<size_t>(s.candidates));
  ParallelChunks(s.candidates, threads, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> tp(static_cast<size_t>(s.cols)), fp(tp.size()), fn(tp.size());
    for (int64_t c = begin; c < end; ++c) {
      std::fill(tp.begin(), tp.end(), 0);
      std::fill(fp.begin(), fp.end(), 0);
      std::fill(fn.begin(), fn.end(), 0);
      const float* p = s.Candidate(c);
      for (int64_t r = 0; r < s.rows; ++r) {
        const float* row = p + r * s.cols;
        const int y = s.labels[r];
        const int predicted = static_cast<int>(std::max_element(row, row + s.cols) - row);
        out.truth_prob[c * s.rows + r] = row[y];
        if (predicted == y) {
          ++tp[y];
        } else {
          ++fp[predicted];
          ++fn[y];
        }
      }
      out.alone_f1[c] = MacroF1FromCounts(tp, fp, fn);
    }
  });
  return out;
}

// One forward selection over a fixed set of allowed candidates. Holds the running sum of the
// picked candidates' probabilities and, per row, its top class and the gap to the second largest
// sum. Scores are "higher is better" (macro F1, or minus the log-loss).
//
// Scoring a candidate for macro F1 only visits a row's classes when the candidate could move the
// row's prediction: adding P_c keeps the top class k1 when max_{k != k1} P_c[r][k] - P_c[r][k1]
// (the candidate's headroom, cached per (candidate, row)) is below top1 - top2 by more than a
// float-rounding margin. Rows that fail this cheap, branch-free test, and rows whose top class
// changed since the last scoring (their cached headroom is stale), are rescored exactly, and their
// headroom refreshed while the row is in cache; so every score equals a full rescoring.
class ForwardSelection {
 public:
  ForwardSelection(const CandidateStack& stack, const RowSummaries& summaries,
                   std::vector<int64_t> allowed, SelectionMetric metric, int threads)
      : s_(stack),
        summaries_(summaries),
        allowed_(std::move(allowed)),
        metric_(metric),
        threads_(threads) {
    const size_t rows = static_cast<size_t>(s_.rows);
    sum_.assign(rows * static_cast<size_t>(s_.cols), 0.0f);
    top_class_.assign(rows, 0);
    gap_.assign(rows, -1.0f);  // nothing picked yet: every row is rescored
    sum_truth_.assign(rows, 0.0f);
    headroom_.resize(allowed_.size() * rows);
    stale_.assign(rows, 1);
    RecountBase();
  }

  const std::vector<int64_t>& allowed() const { return allowed_; }

  // Score of the current blend plus each allowed candidate, by position in
  // allowed().
  std::vector<double> ScoreAll() {
    std::vector<double> scores(allowed_.size());
    if (picked_ == 0 && metric_ == SelectionMetric::kMacroF1) {
      // Each candidate alone, known from Summarise; headroom stays stale until the next scoring.
      for (size_t i = 0; i < allowed_.size(); ++i) scores[i] = summaries_.alone_f1[allowed_[i]];
      return scores;
    }
    ParallelChunks(static_cast<int64_t>(allowed_.size()), threads_,
                   [&](int64_t begin, int64_t end) {
                     std::vector<int32_t> scratch(static_cast<size_t>(s_.rows));
                     for (int64_t i = begin; i < end; ++i)
                       scores[i] = ScoreWith(static_cast<size_t>(i), &scratch);
                   });
    std::fill(stale_.begin(), stale_.end(), 0);
    return scores;
  }

  double CurrentScore() const {
    if (metric_ == SelectionMetric::kLogLoss) return -LogLossOf(nullptr);
    return MacroF1FromCounts(tp_, fp_, fn_);
  }

  void Add(size_t position) {
    const int64_t c = allowed_[position];
    const float* p = s_.Candidate(c);
    const int64_t k_count = s_.cols;
    std::vector<int64_t> changed;
    for (int64_t r = 0; r < s_.rows; ++r) {
      float* row = &sum_[static_cast<size_t>(r * k_count)];
      const float* add = p + r * k_count;
      float best = -std::numeric_limits<float>::infinity(), second = best;
      int arg = 0;
      for (int64_t k = 0; k < k_count; ++k) {
        row[k] += add[k];
        if (row[k] > best) {
          second = best;
          best = row[k];
          arg = static_cast<int>(k);
        } else if (row[k] > second) {
          second = row[k];
        }
      }
      if (k_count == 1) second = best;
      if (arg != top_class_[r]) changed.push_back(r);
      top_class_[r] = arg;
      // Float sums of a few hundred probabilities err by far less than this margin.
      gap_[r] = best - second - 1e-5f * (1.0f + std::fabs(best));
      sum_truth_[r] += summaries_.truth_prob[static_cast<size_t>(c * s_.rows + r)];
    }
    ++picked_;
    for (int64_t r : changed) stale_[r] = 1;
    RecountBase();
  }

 private:
  void RecountBase() {
    tp_.assign(static_cast<size_t>(s_.cols), 0);
    fp_ = fn_ = tp_;
    for (int64_t r = 0; r < s_.rows; ++r) {
      const int y = s_.labels[r], k = top_class_[r];
      if (k == y) {
        ++tp_[y];
      } else {
        ++fp_[k];
        ++fn_[y];
      }
    }
  }

  // Mean log-loss of (sum + P_c) / (picked + 1), or of sum / picked when
  // `extra` is null.
  double LogLossOf(const float* extra) const {
    const double scale = 1.0 / static_cast<double>(picked_ + (extra ? 1 : 0));
    // One log per 16 rows: a product of 16 probabilities clamped at 1e-15 stays above 1e-240,
    // well inside double's range, and log(a * b) = log a + log b.
    double total = 0, product = 1;
    for (int64_t r = 0; r < s_.rows; ++r) {
      const double p = (sum_truth_[r] + (extra ? extra[r] : 0.0f)) * scale;
      product *= std::clamp(p, 1e-15, 1.0);
      if ((r & 15) == 15) {
        total -= std::log(product);
        product = 1;
      }
    }
    total -= std::log(product);
    return total / static_cast<double>(s_.rows);
  }

  double ScoreWith(size_t position, std::vector<int32_t>* scratch) {
    const int64_t c = allowed_[position];
    const size_t rows = static_cast<size_t>(s_.rows);
    if (metric_ == SelectionMetric::kLogLoss) {
      return -LogLossOf(&summaries_.truth_prob[static_cast<size_t>(c) * rows]);
    }
    // A branch-free pass collects the rows whose prediction the candidate might move.
    float* headroom = &headroom_[position * rows];
    int32_t* movable = scratch->data();
    size_t count = 0;
    for (size_t r = 0; r < rows; ++r) {
      movable[count] = static_cast<int32_t>(r);
      count += (headroom[r] >= gap_[r]) | stale_[r];
    }
    std::vector<int64_t> tp = tp_, fp = fp_, fn = fn_;
    const float* p = s_.Candidate(c);
    const int64_t k_count = s_.cols;
    // The rows are scattered through the candidate's block: fetch a few ahead (memory latency,
    // not arithmetic, dominates this loop).
    constexpr size_t kAhead = 16;
    for (size_t i = 0; i < count; ++i) {
      if (i + kAhead < count) {
        const float* next = p + static_cast<size_t>(movable[i + kAhead]) * k_count;
        __builtin_prefetch(next);
        __builtin_prefetch(next + k_count - 1);
      }
      const size_t r = static_cast<size_t>(movable[i]);
      const float* sum = &sum_[r * k_count];
      const float* add = p + r * k_count;
      float best = sum[0] + add[0];
      int arg = 0;
      for (int64_t k = 1; k < k_count; ++k) {
        const float v = sum[k] + add[k];
        if (v > best) {
          best = v;
          arg = static_cast<int>(k);
        }
      }
      const int old = top_class_[r];
      if (stale_[r]) headroom[r] = Headroom(add, k_count, old);
      if (arg == old) continue;
      const int y = s_.labels[r];
      if (old == y) {
        --tp[y];
      } else {
        --fp[old];
        --fn[y];
      }
      if (arg == y) {
        ++tp[y];
      } else {
        ++fp[arg];
        ++fn[y];
      }
    }
    return MacroF1FromCounts(tp, fp, fn);
  }

  const CandidateStack& s_;
  const RowSummaries& summaries_;
  const std::vector<int64_t> allowed_;
  const SelectionMetric metric_;
  const int threads_;
  int64_t picked_ = 0;
  std::vector<float> sum_;        // rows x cols: sum of picked candidates' probabilities
  std::vector<int> top_class_;    // rows: argmax of sum_ (first on ties)
  std::vector<float> gap_;        // rows: top1 - top2 of sum_, less a rounding margin
  std::vector<float> sum_truth_;  // rows: sum_ at the true class
  std::vector<float> headroom_;   // allowed x rows: Headroom(P_c[r], top_class_[r]) unless stale
  std::vector<uint8_t> stale_;    // rows: top class changed since headroom_ was last refreshed
  std::vector<int64_t> tp_, fp_, fn_;
};

struct OneSelection {
  std::vector<int64_t> picks;      // candidate indices, up to the best iteration
  std::vector<double> trajectory;  // higher-is-better score after each pick
  std::vector<int64_t> all_picks;  // every pick
};

OneSelection SelectOnce(ForwardSelection& selection, const GreedyOptions& options, uint64_t seed) {
  const auto& allowed = selection.allowed();
  OneSelection out;
  std::vector<int64_t>& all_picks = out.all_picks;
  const std::vector<double> single = selection.ScoreAll();
  std::vector<size_t> order(allowed.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return single[a] > single[b]; });
  const size_t init = std::min<size_t>({static_cast<size_t>(options.init_size), allowed.size(),
                                        static_cast<size_t>(options.rounds)});
  for (size_t j = 0; j < init; ++j) {
    selection.Add(order[j]);
    all_picks.push_back(allowed[order[j]]);
    out.trajectory.push_back(selection.CurrentScore());
  }
  Rng ties(seed);
  while (static_cast<int>(all_picks.size()) < options.rounds) {
    const std::vector<double> scores = selection.ScoreAll();
    const double best = *std::max_element(scores.begin(), scores.end());
    std::vector<size_t> tied;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (scores[i] >= best - 1e-12) tied.push_back(i);
    }
    const size_t pick = tied.size() == 1 ? tied[0] : tied[ties.Below(tied.size())];
    selection.Add(pick);
    all_picks.push_back(allowed[pick]);
    out.trajectory.push_back(selection.CurrentScore());
  }
  const size_t best_iteration = static_cast<size_t>(
      std::max_element(out.trajectory.begin(), out.trajectory.end()) - out.trajectory.begin());
  out.picks.assign(all_picks.begin(), all_picks.begin() + best_iteration + 1);
  return out;
}

}  // namespace

GreedyResult GreedySelect(const CandidateStack& stack, const GreedyOptions& options) {
  if (stack.candidates < 1 || stack.rows < 1) throw std::invalid_argument("no candidates");
  if (options.rounds < 1 || options.init_size < 1 || options.bags < 1 ||
      !(options.bag_fraction > 0 && options.bag_fraction <= 1)) {
    throw std::invalid_argument(
        "greedy selection needs rounds, init_size, bags >= 1 and "
        "0 < bag_fraction <= 1");
  }
  const int threads = ThreadCount(options.threads);
  const RowSummaries summaries = Summarise(stack, threads);
  GreedyResult result;
  result.weights.assign(static_cast<size_t>(stack.candidates), 0.0);
  for (int b = 0; b < options.bags; ++b) {
    std::vector<int64_t> allowed(static_cast<size_t>(stack.candidates));
    std::iota(allowed.begin(), allowed.end(), 0);
    if (options.bags > 1) {
      Rng draw(DeriveSeed(options.seed, 2 * static_cast<uint64_t>(b) + 1));
      const size_t keep = std::clamp<size_t>(
          static_cast<size_t>(std::llround(options.bag_fraction * stack.candidates)), 1,
          allowed.size());
      for (size_t i = 0; i < keep; ++i) {
        std::swap(allowed[i], allowed[i + draw.Below(allowed.size() - i)]);
      }
      allowed.resize(keep);
      std::sort(allowed.begin(), allowed.end());
    }
    ForwardSelection selection(stack, summaries, allowed, options.metric, threads);
    OneSelection one =
        SelectOnce(selection, options, DeriveSeed(options.seed, 2 * static_cast<uint64_t>(b) + 2));
    for (int64_t c : one.picks) {
      result.weights[static_cast<size_t>(c)] +=
          1.0 / (static_cast<double>(one.picks.size()) * options.bags);
    }
    if (b == 0) {
      result.picks = one.picks;
      result.trajectory = one.trajectory;
      result.all_picks = one.all_picks;
      if (options.metric == SelectionMetric::kLogLoss) {
        for (double& v : result.trajectory) v = -v;
      }
    }
  }
  return result;
}

double SelectionScore(const CandidateStack& stack, const std::vector<double>& weights,
                      SelectionMetric metric) {
  const BlendScore score = ScoreBlend(stack, weights);
  return metric == SelectionMetric::kLogLoss ? score.log_loss : score.macro_f1;
}

}  // namespace ensweep
