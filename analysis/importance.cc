#include "analysis/importance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/parallel_for.h"
#include "core/rng.h"

namespace ensweep {
namespace {

constexpr int kMaxDepth = 64;
constexpr double kFeatureThreshold = 1e-7;  // values closer than this are not split apart
constexpr double kImpurityEpsilon = 1e-12;  // a node this pure (standardised target) is a leaf
constexpr int64_t kMaxGridCells = int64_t{1} << 20;

// One parameter: its columns in the encoded matrix and how a trial's value maps onto them.
struct Group {
  const ParamSpec* spec = nullptr;
  std::vector<int> columns;  // empty for a parameter whose domain is a single value
  double lo = 0, hi = 0;     // numeric: the encoded domain
};

// The trials used: the COMPLETE ones with a finite value, at most kMaxImportanceTrials of them.
std::vector<const TrialRecord*> SelectTrials(const std::vector<TrialRecord>& trials,
                                             uint64_t seed) {
  std::vector<const TrialRecord*> out;
  for (const TrialRecord& t : trials)
    if (t.state == TrialState::kComplete && t.value && std::isfinite(*t.value)) out.push_back(&t);
  if (static_cast<int64_t>(out.size()) <= kMaxImportanceTrials) return out;
  Rng rng(DeriveSeed(seed, StableHash("importance.subsample")));
  for (int64_t i = 0; i < kMaxImportanceTrials; ++i) {  // partial Fisher-Yates
    const int64_t j = i + static_cast<int64_t>(rng.Below(out.size() - i));
    std::swap(out[i], out[j]);
  }
  out.resize(kMaxImportanceTrials);
  std::sort(out.begin(), out.end(),
            [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; });
  return out;
}

bool IsNumeric(const ParamSpec& p) {
  return p.kind == ParamKind::kUniform || p.kind == ParamKind::kLogUniform ||
         p.kind == ParamKind::kInt;
}
bool IsLog(const ParamSpec& p) {
  return p.kind == ParamKind::kLogUniform || (p.kind == ParamKind::kInt && p.log);
}

// The encoded value of a numeric parameter in a trial, or NaN when absent or not a usable number.
double NumericValue(const ParamSpec& p, const Json& params) {
  auto it = params.find(p.name);
  if (it == params.end() || !it->is_number()) return NAN;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return NAN;
  if (IsLog(p)) return v > 0 ? std::log(v) : NAN;
  return v;
}

// The index of a categorical parameter's value among its choices, or -1.
int ChoiceIndex(const ParamSpec& p, const Json& params) {
  auto it = params.find(p.name);
  if (it == params.end()) return -1;
  for (size_t i = 0; i < p.choices.size(); ++i)
    if (p.choices[i] == *it) return static_cast<int>(i);
  return -1;
}

struct Encoded {
  std::vector<Group> groups;
  std::vector<std::vector<double>> columns;  // column-major, each value in [0, 1]
  std::vector<double> y;
};

// Long: one pass per parameter kind (domain, presence, imputation, one-hot), kept together so
// the encoding reads as one rule; see the header for it.
Encoded Encode(const StudySpec& spec, const std::vector<const TrialRecord*>& used, uint64_t seed) {
  Encoded e;
  const size_t n = used.size();
  Rng impute(DeriveSeed(seed, StableHash("importance.impute")));
  for (const ParamSpec& p : spec.space.params) {
    if (p.kind == ParamKind::kConstant) continue;
    Group g;
    g.spec = &p;
    if (p.kind == ParamKind::kChoice) {
      std::vector<int> index(n);
      bool present = false;
      for (size_t i = 0; i < n; ++i) present |= (index[i] = ChoiceIndex(p, used[i]->params)) >= 0;
      if (!present) continue;
      if (p.choices.size() > 1) {
        for (int& k : index)
          if (k < 0) k = static_cast<int>(impute.Below(p.choices.size()));
        for (size_t c = 0; c < p.choices.size(); ++c) {
          g.columns.push_back(static_cast<int>(e.columns.size()));
          std::vector<double> col(n);
          for (size_t i = 0; i < n; ++i) col[i] = index[i] == static_cast<int>(c) ? 1.0 : 0.0;
          e.columns.push_back(std::move(col));
        }
      }
      e.groups.push_back(std::move(g));
      continue;
    }
    if (!IsNumeric(p)) continue;
    std::vector<double> v(n);
    bool present = false;
    g.lo = IsLog(p) ? std::log(p.low) : p.low;
    g.hi = IsLog(p) ? std::log(p.high) : p.high;
    for (size_t i = 0; i < n; ++i) {
      v[i] = NumericValue(p, used[i]->params);
      if (std::isnan(v[i])) continue;
      present = true;
      g.lo = std::min(g.lo, v[i]);
      g.hi = std::max(g.hi, v[i]);
    }
    if (!present) continue;
    if (g.hi > g.lo) {
      for (double& x : v) x = std::isnan(x) ? impute.Uniform() : (x - g.lo) / (g.hi - g.lo);
      g.columns.push_back(static_cast<int>(e.columns.size()));
      e.columns.push_back(std::move(v));
    }
    e.groups.push_back(std::move(g));
  }
  e.y.resize(n);
  for (size_t i = 0; i < n; ++i) e.y[i] = *used[i]->value;
  return e;
}

// A leaf of a fitted tree: its value and its box in the unit cube of the encoded columns.
struct Leaf {
  double value = 0;
  std::vector<double> lo, hi;
};

struct FittedTree {
  std::vector<Leaf> leaves;
  std::vector<std::vector<double>> thresholds;  // per column, sorted, unique
};

// Grows one regression tree (squared error, every column at every split, bootstrap weights) and
// keeps what fANOVA needs: the leaves' boxes and the split points of each column.
class TreeBuilder {
 public:
  TreeBuilder(const Encoded& data, const std::vector<std::vector<int>>& sorted, uint64_t seed)
      : x_(data.columns), y_(data.y), rng_(seed) {
    const size_t n = y_.size(), d = x_.size();
    weight_.assign(n, 0);
    for (size_t i = 0; i < n; ++i) weight_[rng_.Below(n)] += 1;
    order_.resize(d);
    for (size_t c = 0; c < d; ++c)
      for (int r : sorted[c])
        if (weight_[r] > 0) order_[c].push_back(r);
    goes_left_.assign(n, 0);
    buffer_.resize(order_.empty() ? 0 : order_[0].size());
    tree_.thresholds.resize(d);
  }

  FittedTree Build() {
    const size_t d = x_.size();
    std::vector<double> lo(d, 0.0), hi(d, 1.0);
    const int rows = d == 0 ? 0 : static_cast<int>(order_[0].size());
    Grow(0, rows, 0, lo, hi);
    for (auto& t : tree_.thresholds) {
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
    }
    return std::move(tree_);
  }

 private:
  struct Split {
    int column = -1;
    double threshold = 0;
    double score = -1;
  };

  void Grow(int begin, int end, int depth, std::vector<double>& lo, std::vector<double>& hi) {
    double w = 0, s = 0, s2 = 0;
    for (int i = begin; i < end; ++i) {
      const int r = order_[0][i];
      w += weight_[r];
      s += weight_[r] * y_[r];
      s2 += weight_[r] * y_[r] * y_[r];
    }
    const double mean = s / w;
    const double impurity = s2 / w - mean * mean;
    Split split;
    if (depth < kMaxDepth && end - begin >= 2 && impurity > kImpurityEpsilon)
      split = BestSplit(begin, end, w, s);
    if (split.column < 0) {
      tree_.leaves.push_back({mean, lo, hi});
      return;
    }
    tree_.thresholds[split.column].push_back(split.threshold);
    const int mid = Partition(begin, end, split);
    const double saved_hi = hi[split.column];
    hi[split.column] = split.threshold;
    Grow(begin, mid, depth + 1, lo, hi);
    hi[split.column] = saved_hi;
    const double saved_lo = lo[split.column];
    lo[split.column] = split.threshold;
    Grow(mid, end, depth + 1, lo, hi);
    lo[split.column] = saved_lo;
  }

  // The split with the largest decrease of weighted squared error; columns are tried in a random
  // order and a later one wins only if strictly better (as scikit-learn breaks ties).
  Split BestSplit(int begin, int end, double w_total, double s_total) {
    std::vector<int> columns(x_.size());
    std::iota(columns.begin(), columns.end(), 0);
    for (size_t i = columns.size(); i > 1; --i) std::swap(columns[i - 1], columns[rng_.Below(i)]);
    Split best;
    for (int c : columns) {
      const std::vector<double>& x = x_[c];
      const std::vector<int>& ord = order_[c];
      if (x[ord[end - 1]] <= x[ord[begin]] + kFeatureThreshold) continue;
      double wl = 0, sl = 0;
      for (int i = begin; i + 1 < end; ++i) {
        const int r = ord[i];
        wl += weight_[r];
        sl += weight_[r] * y_[r];
        const double a = x[r], b = x[ord[i + 1]];
        if (b <= a + kFeatureThreshold) continue;
        const double wr = w_total - wl, sr = s_total - sl;
        const double score = sl * sl / wl + sr * sr / wr;
        if (score > best.score) {
          double t = 0.5 * (a + b);
          if (t >= b) t = a;
          best = {c, t, score};
        }
      }
    }
    return best;
  }

  // Reorders every column's rows of [begin, end) stably into left then right; returns the middle.
  int Partition(int begin, int end, const Split& split) {
    const std::vector<double>& x = x_[split.column];
    int left = 0;
    for (int i = begin; i < end; ++i) {
      const int r = order_[0][i];
      goes_left_[r] = x[r] <= split.threshold;
      left += goes_left_[r];
    }
    for (std::vector<int>& ord : order_) {
      int l = begin, k = 0;
      for (int i = begin; i < end; ++i) {
        const int r = ord[i];
        if (goes_left_[r])
          ord[l++] = r;
        else
          buffer_[k++] = r;
      }
      std::copy(buffer_.begin(), buffer_.begin() + k, ord.begin() + l);
    }
    return begin + left;
  }

  const std::vector<std::vector<double>>& x_;
  const std::vector<double>& y_;
  Rng rng_;
  std::vector<double> weight_;
  std::vector<std::vector<int>> order_;  // per column: the rows in the bootstrap, by value
  std::vector<char> goes_left_;
  std::vector<int> buffer_;
  FittedTree tree_;
};

double Volume(const Leaf& leaf) {
  double v = 1;
  for (size_t c = 0; c < leaf.lo.size(); ++c) v *= leaf.hi[c] - leaf.lo[c];
  return v;
}

// The variance of the marginal of the columns `group` over the tree's partition: the domain of
// these columns is cut at every split point of the tree into cells, the marginal in a cell is the
// average over the other columns of the tree's prediction, and the cells weigh their size.
// Accumulates each leaf's contribution on a k-dimensional difference array over the cells.
double MarginalVarianceGrid(const FittedTree& tree, const std::vector<int>& group,
                            const std::vector<double>& volumes) {
  const size_t k = group.size();
  std::vector<const std::vector<double>*> cuts(k);
  std::vector<int64_t> dims(k), stride(k);
  int64_t total = 1;
  for (size_t j = 0; j < k; ++j) {
    cuts[j] = &tree.thresholds[group[j]];
    dims[j] = static_cast<int64_t>(cuts[j]->size()) + 2;  // cells + 1, for the difference array
    stride[j] = total;
    total *= dims[j];
  }
  std::vector<double> sum(total, 0.0), weight(total, 0.0);
  auto edge = [&](size_t j, double v) {  // index of the edge v among 0, cuts..., 1
    if (v <= 0) return int64_t{0};
    const auto& cj = *cuts[j];
    auto it = std::lower_bound(cj.begin(), cj.end(), v);
    if (it != cj.end() && *it == v) return static_cast<int64_t>(it - cj.begin()) + 1;
    return static_cast<int64_t>(cj.size()) + 1;  // v == 1
  };
  std::vector<int64_t> a(k), b(k);
  for (size_t l = 0; l < tree.leaves.size(); ++l) {
    const Leaf& leaf = tree.leaves[l];
    double width = 1;
    for (size_t j = 0; j < k; ++j) {
      a[j] = edge(j, leaf.lo[group[j]]);
      b[j] = edge(j, leaf.hi[group[j]]);
      width *= leaf.hi[group[j]] - leaf.lo[group[j]];
    }
    const double w = volumes[l] / width;
    for (uint64_t corner = 0; corner < (uint64_t{1} << k); ++corner) {
      int64_t at = 0;
      int sign = 1;
      for (size_t j = 0; j < k; ++j) {
        const bool upper = corner >> j & 1;
        at += (upper ? b[j] : a[j]) * stride[j];
        if (upper) sign = -sign;
      }
      sum[at] += sign * w * leaf.value;
      weight[at] += sign * w;
    }
  }
  for (size_t j = 0; j < k; ++j)  // prefix sums along each dimension
    for (int64_t at = 0; at < total; ++at)
      if ((at / stride[j]) % dims[j] > 0) {
        sum[at] += sum[at - stride[j]];
        weight[at] += weight[at - stride[j]];
      }
  double m1 = 0, m2 = 0, size_total = 0;
  for (int64_t at = 0; at < total; ++at) {
    double size = 1;
    bool inside = true;
    for (size_t j = 0; j < k && inside; ++j) {
      const int64_t i = (at / stride[j]) % dims[j];
      if (i == dims[j] - 1) {
        inside = false;
        break;
      }
      const auto& cj = *cuts[j];
      const double lo = i == 0 ? 0.0 : cj[i - 1];
      const double hi = i == static_cast<int64_t>(cj.size()) ? 1.0 : cj[i];
      size *= hi - lo;
    }
    if (!inside || size <= 0 || weight[at] <= 0) continue;
    const double m = sum[at] / weight[at];
    m1 += size * m;
    m2 += size * m * m;
    size_total += size;
  }
  if (size_total <= 0) return 0;
  m1 /= size_total;
  return std::max(0.0, m2 / size_total - m1 * m1);
}

// The same variance for groups whose grid of cells is too large to hold (a categorical parameter
// with very many choices split in one tree): from the leaves' projections onto the group's
// columns, E[m] and E[m^2] as sums over pairs of distinct projections of their overlap.
double MarginalVariancePairs(const FittedTree& tree, const std::vector<int>& group,
                             const std::vector<double>& volumes) {
  std::map<std::vector<double>, double> projected;  // box (lo..., hi...) -> sum of w * value
  for (size_t l = 0; l < tree.leaves.size(); ++l) {
    const Leaf& leaf = tree.leaves[l];
    std::vector<double> box;
    double width = 1;
    for (int c : group) {
      box.push_back(leaf.lo[c]);
      box.push_back(leaf.hi[c]);
      width *= leaf.hi[c] - leaf.lo[c];
    }
    projected[box] += volumes[l] / width * leaf.value;
  }
  double m1 = 0, m2 = 0;
  for (auto i = projected.begin(); i != projected.end(); ++i) {
    double size = 1;
    for (size_t j = 0; j < group.size(); ++j) size *= i->first[2 * j + 1] - i->first[2 * j];
    m1 += i->second * size;
    for (auto k = projected.begin(); k != projected.end(); ++k) {
      double overlap = 1;
      for (size_t j = 0; j < group.size() && overlap > 0; ++j)
        overlap *= std::max(0.0, std::min(i->first[2 * j + 1], k->first[2 * j + 1]) -
                                     std::max(i->first[2 * j], k->first[2 * j]));
      m2 += i->second * k->second * overlap;
    }
  }
  return std::max(0.0, m2 - m1 * m1);
}

// Per group, the fraction of the tree's variance its marginal explains; empty when the tree's
// prediction is constant.
std::vector<double> TreeFractions(const FittedTree& tree, const std::vector<Group>& groups) {
  std::vector<double> volumes(tree.leaves.size());
  double v_total = 0, mean = 0;
  for (size_t l = 0; l < tree.leaves.size(); ++l) {
    volumes[l] = Volume(tree.leaves[l]);
    v_total += volumes[l];
    mean += volumes[l] * tree.leaves[l].value;
  }
  mean /= v_total;
  double variance = 0;
  for (size_t l = 0; l < tree.leaves.size(); ++l)
    variance += volumes[l] * (tree.leaves[l].value - mean) * (tree.leaves[l].value - mean);
  variance /= v_total;
  if (!(variance > 0)) return {};
  std::vector<double> out(groups.size(), 0.0);
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<int> split;  // the group's columns this tree splits on
    int64_t cells = 1;
    for (int c : groups[g].columns)
      if (!tree.thresholds[c].empty()) {
        split.push_back(c);
        cells = std::min(kMaxGridCells + 1,
                         cells * static_cast<int64_t>(tree.thresholds[c].size() + 2));
      }
    if (split.empty()) continue;
    const double marginal = cells <= kMaxGridCells ? MarginalVarianceGrid(tree, split, volumes)
                                                   : MarginalVariancePairs(tree, split, volumes);
    out[g] = marginal / variance;
  }
  return out;
}

}  // namespace

ImportanceResult ComputeImportance(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   uint64_t seed, int threads) {
  ImportanceResult result;
  result.seed = seed;
  const std::vector<const TrialRecord*> used = SelectTrials(trials, seed);
  result.trials_used = static_cast<int64_t>(used.size());
  if (used.size() < 2) return result;
  Encoded data = Encode(spec, used, seed);
  // Standardised target: the fractions do not change, and the purity test does not depend on
  // the objective's scale.
  double mean = 0, var = 0;
  for (double v : data.y) mean += v;
  mean /= data.y.size();
  for (double v : data.y) var += (v - mean) * (v - mean);
  var /= data.y.size();
  if (!(var > 0) || data.columns.empty()) return result;
  for (double& v : data.y) v = (v - mean) / std::sqrt(var);

  std::vector<std::vector<int>> sorted(data.columns.size());
  for (size_t c = 0; c < data.columns.size(); ++c) {
    sorted[c].resize(data.y.size());
    std::iota(sorted[c].begin(), sorted[c].end(), 0);
    const auto& x = data.columns[c];
    std::stable_sort(sorted[c].begin(), sorted[c].end(), [&](int a, int b) { return x[a] < x[b]; });
  }
  std::vector<std::vector<double>> fractions(kImportanceTrees);
  ParallelFor(
      kImportanceTrees,
      [&](int64_t t) {
        TreeBuilder builder(data, sorted, DeriveSeed(seed, static_cast<uint64_t>(t)));
        fractions[t] = TreeFractions(builder.Build(), data.groups);
      },
      ParallelOptions{threads, nullptr, std::chrono::milliseconds(0)});

  std::vector<double> total(data.groups.size(), 0.0);
  int counted = 0;
  for (const auto& f : fractions) {
    if (f.empty()) continue;
    ++counted;
    for (size_t g = 0; g < f.size(); ++g) total[g] += f[g];
  }
  double sum = 0;
  for (double& v : total) sum += v /= std::max(counted, 1);
  if (!(sum > 0)) return result;
  for (size_t g = 0; g < data.groups.size(); ++g)
    result.importances.push_back({data.groups[g].spec->name, total[g] / sum});
  std::sort(result.importances.begin(), result.importances.end(),
            [](const ParamImportance& a, const ParamImportance& b) {
              return a.importance != b.importance ? a.importance > b.importance : a.param < b.param;
            });
  return result;
}

nlohmann::json ImportanceToJson(const ImportanceResult& result) {
  nlohmann::json list = nlohmann::json::array();
  for (const ParamImportance& p : result.importances)
    list.push_back({{"param", p.param}, {"importance", p.importance}});
  return {{"method", result.method},
          {"trials_used", result.trials_used},
          {"seed", result.seed},
          {"importances", list}};
}

}  // namespace ensweep
