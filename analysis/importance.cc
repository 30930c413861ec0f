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
constexpr size_t kMaxChoiceColumns = 32;

// One parameter and its columns in the encoded matrix.
struct Group {
  const ParamSpec* spec = nullptr;
  std::vector<int> columns;  // empty for a parameter whose domain is a single value
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

// Appends the one-hot columns of categorical parameter `p`: one per choice that occurs among the
// trials (at most kMaxChoiceColumns - 1 of the most frequent, the others sharing the last one).
// False when no trial has the parameter.
bool EncodeChoice(const ParamSpec& p, const std::vector<const TrialRecord*>& used, Rng& impute,
                  Group* g, std::vector<std::vector<double>>* columns) {
  const size_t n = used.size();
  std::vector<int> index(n);
  std::map<int, int64_t> count;
  for (size_t i = 0; i < n; ++i)
    if ((index[i] = ChoiceIndex(p, used[i]->params)) >= 0) ++count[index[i]];
  if (count.empty()) return false;
  if (count.size() < 2) return true;              // one value among the trials: importance 0
  std::vector<std::pair<int64_t, int>> by_count;  // (-count, choice): most frequent first
  for (const auto& [choice, k] : count) by_count.emplace_back(-k, choice);
  std::sort(by_count.begin(), by_count.end());
  std::vector<int> column_of(p.choices.size(), -1);
  const size_t width = std::min(by_count.size(), kMaxChoiceColumns);
  for (size_t r = 0; r < by_count.size(); ++r)
    column_of[by_count[r].second] = static_cast<int>(std::min(r, width - 1));
  std::vector<int> observed;
  for (const auto& entry : count) observed.push_back(entry.first);
  for (int& k : index)  // absent: a choice drawn uniformly among those that occur
    if (k < 0) k = observed[impute.Below(observed.size())];
  for (size_t c = 0; c < width; ++c) {
    g->columns.push_back(static_cast<int>(columns->size()));
    std::vector<double> col(n);
    for (size_t i = 0; i < n; ++i) col[i] = column_of[index[i]] == static_cast<int>(c) ? 1.0 : 0.0;
    columns->push_back(std::move(col));
  }
  return true;
}

// Appends the column of numeric parameter `p`, scaled from its domain (widened to the trials'
// values) to [0, 1]; no column when that domain is a single value. False when no trial has the
// parameter.
bool EncodeNumber(const ParamSpec& p, const std::vector<const TrialRecord*>& used, Rng& impute,
                  Group* g, std::vector<std::vector<double>>* columns) {
  const size_t n = used.size();
  std::vector<double> v(n);
  bool present = false;
  double lo = IsLog(p) ? std::log(p.low) : p.low;  // the encoded domain
  double hi = IsLog(p) ? std::log(p.high) : p.high;
  for (size_t i = 0; i < n; ++i) {
    v[i] = NumericValue(p, used[i]->params);
    if (std::isnan(v[i])) continue;
    present = true;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  if (!present) return false;
  if (hi > lo) {  // absent: a value drawn uniformly over the domain
    for (double& x : v) x = std::isnan(x) ? impute.Uniform() : (x - lo) / (hi - lo);
    g->columns.push_back(static_cast<int>(columns->size()));
    columns->push_back(std::move(v));
  }
  return true;
}

struct Encoded {
  std::vector<Group> groups;
  std::vector<std::vector<double>> columns;  // column-major, each value in [0, 1]
  std::vector<double> y;
};

// The matrix the forest is fitted to (the header's encoding), in the unit cube.
Encoded Encode(const StudySpec& spec, const std::vector<const TrialRecord*>& used, uint64_t seed) {
  Encoded e;
  Rng impute(DeriveSeed(seed, StableHash("importance.impute")));
  for (const ParamSpec& p : spec.space.params) {
    if (p.kind == ParamKind::kConstant) continue;
    Group g;
    g.spec = &p;
    const bool present = p.kind == ParamKind::kChoice
                             ? EncodeChoice(p, used, impute, &g, &e.columns)
                             : EncodeNumber(p, used, impute, &g, &e.columns);
    if (present) e.groups.push_back(std::move(g));
  }
  for (const TrialRecord* t : used) e.y.push_back(*t->value);
  return e;
}

// A fitted tree: its nodes (the root first) and the split points of each column.
struct Node {
  int column = -1;  // the split's column; -1 for a leaf
  double at = 0;    // the split's threshold (left: x <= at), or the leaf's value
  int left = -1, right = -1;
  int cut = 0;  // a split's edge among its column's edges (FittedTree::Edge)
};

struct FittedTree {
  size_t columns = 0;
  std::vector<Node> nodes;
  std::vector<std::vector<double>> thresholds;  // per column, sorted, unique

  // Edge i of column c: 0, its thresholds in order, 1.
  double Edge(int c, int i) const {
    const std::vector<double>& t = thresholds[c];
    return i == 0 ? 0.0 : i > static_cast<int>(t.size()) ? 1.0 : t[i - 1];
  }
  // Sorts the thresholds and gives each split its edge.
  void IndexCuts() {
    for (auto& t : thresholds) {
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
    }
    for (Node& n : nodes)
      if (n.column >= 0) {
        const auto& t = thresholds[n.column];
        n.cut = static_cast<int>(std::lower_bound(t.begin(), t.end(), n.at) - t.begin()) + 1;
      }
  }
};

using Edges = std::vector<int>;

template <typename Fn>
void VisitLeaves(const FittedTree& tree, int node, Edges& lo, Edges& hi, Fn& fn) {
  const Node& n = tree.nodes[node];
  if (n.column < 0) {
    fn(n.at, lo, hi);
    return;
  }
  const int saved_hi = hi[n.column];
  hi[n.column] = n.cut;
  VisitLeaves(tree, n.left, lo, hi, fn);
  hi[n.column] = saved_hi;
  const int saved_lo = lo[n.column];
  lo[n.column] = n.cut;
  VisitLeaves(tree, n.right, lo, hi, fn);
  lo[n.column] = saved_lo;
}

// Calls fn(value, lo, hi) for every leaf, left to right, with its box: per column c, from edge
// lo[c] to edge hi[c] (FittedTree::Edge) in the unit cube of the encoded columns.
template <typename Fn>
void ForEachLeaf(const FittedTree& tree, Fn fn) {
  if (tree.nodes.empty()) return;
  Edges lo(tree.columns, 0), hi(tree.columns);
  for (size_t c = 0; c < tree.columns; ++c) hi[c] = static_cast<int>(tree.thresholds[c].size()) + 1;
  VisitLeaves(tree, 0, lo, hi, fn);
}

// Grows one regression tree (squared error, every column at every split, bootstrap weights) and
// keeps what fANOVA needs: the leaves' boxes and the split points of each column.
class TreeBuilder {
 public:
  TreeBuilder(const Encoded& data, const std::vector<std::vector<int>>& sorted, uint64_t seed)
      : x_(data.columns), y_(data.y), rng_(seed) {
    const size_t n = y_.size(), d = x_.size();
    weight_.assign(n, 0);
    for (size_t i = 0; i < n; ++i) weight_[rng_.Below(n)] += 1;
    weighted_y_.resize(n);
    for (size_t i = 0; i < n; ++i) weighted_y_[i] = weight_[i] * y_[i];
    order_.resize(d);
    for (size_t c = 0; c < d; ++c)
      for (int r : sorted[c])
        if (weight_[r] > 0) order_[c].push_back(r);
    goes_left_.assign(n, 0);
    buffer_.resize(order_.empty() ? 0 : order_[0].size());
    tree_.thresholds.resize(d);
    tree_.columns = d;
    tree_.nodes.reserve(2 * buffer_.size() + 1);
    columns_.resize(d);
    std::iota(columns_.begin(), columns_.end(), 0);
  }

  FittedTree Build() {
    const int rows = static_cast<int>(buffer_.size());
    Sums root;
    for (int i = 0; i < rows; ++i) root.Add(weight_[order_[0][i]], y_[order_[0][i]]);
    if (rows > 0) Grow(0, rows, 0, root);
    tree_.IndexCuts();
    return std::move(tree_);
  }

 private:
  struct Split {
    int column = -1;
    double threshold = 0;
    double score = -1;
  };
  struct Sums {  // of the weights, weighted targets and weighted squares of a node's rows
    double w = 0, s = 0, s2 = 0;
    void Add(double weight, double y) {
      w += weight;
      s += weight * y;
      s2 += weight * y * y;
    }
  };

  // Grows the node of rows [begin, end), whose sums are `sums`; returns its index.
  int Grow(int begin, int end, int depth, const Sums& sums) {
    const double mean = sums.s / sums.w;
    const double impurity = sums.s2 / sums.w - mean * mean;
    Split split;
    if (depth < kMaxDepth && end - begin >= 2 && impurity > kImpurityEpsilon)
      split = BestSplit(begin, end, sums.w, sums.s);
    const int index = static_cast<int>(tree_.nodes.size());
    tree_.nodes.push_back({split.column, split.column < 0 ? mean : split.threshold});
    if (split.column < 0) return index;
    tree_.thresholds[split.column].push_back(split.threshold);
    Sums left_sums, right_sums;
    const int mid = Partition(begin, end, split, &left_sums, &right_sums);
    const int left = Grow(begin, mid, depth + 1, left_sums);
    const int right = Grow(mid, end, depth + 1, right_sums);
    tree_.nodes[index].left = left;
    tree_.nodes[index].right = right;
    return index;
  }

  // The split with the largest decrease of weighted squared error; columns are tried in a random
  // order and a later one wins only if strictly better (as scikit-learn breaks ties).
  Split BestSplit(int begin, int end, double w_total, double s_total) {
    std::vector<int>& columns = columns_;
    for (size_t i = columns.size(); i > 1; --i) std::swap(columns[i - 1], columns[rng_.Below(i)]);
    Split best;
    for (int c : columns) {
      const double* x = x_[c].data();
      const int* ord = order_[c].data();
      if (x[ord[end - 1]] <= x[ord[begin]] + kFeatureThreshold) continue;
      double wl = 0, sl = 0;
      int r = ord[begin];
      double a = x[r];
      for (int i = begin + 1; i < end; ++i) {
        wl += weight_[r];
        sl += weighted_y_[r];
        r = ord[i];
        const double b = x[r];
        if (b > a + kFeatureThreshold) {
          const double wr = w_total - wl, sr = s_total - sl;
          const double score = sl * sl / wl + sr * sr / wr;
          if (score > best.score) {
            double t = 0.5 * (a + b);
            if (t >= b) t = a;
            best = {c, t, score};
          }
        }
        a = b;
      }
    }
    return best;
  }

  // Reorders every column's rows of [begin, end) stably into left then right, sums each side;
  // returns the middle.
  int Partition(int begin, int end, const Split& split, Sums* left_sums, Sums* right_sums) {
    const std::vector<double>& x = x_[split.column];
    int left = 0;
    for (int i = begin; i < end; ++i) {
      const int r = order_[0][i];
      goes_left_[r] = x[r] <= split.threshold;
      left += goes_left_[r];
      (goes_left_[r] ? left_sums : right_sums)->Add(weight_[r], y_[r]);
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
  std::vector<double> weight_;  // per row: how often the bootstrap drew it
  std::vector<double> weighted_y_;
  std::vector<std::vector<int>> order_;  // per column: the rows in the bootstrap, by value
  std::vector<char> goes_left_;
  std::vector<int> buffer_;
  std::vector<int> columns_;  // the order BestSplit tries them in
  FittedTree tree_;
};

// A tree's leaves, from one walk: value, volume and box (edge indices, FittedTree::Edge).
struct Leaves {
  size_t columns = 0;
  std::vector<double> values, volumes;
  std::vector<int> boxes;  // per leaf: `columns` low edges, then `columns` high edges

  explicit Leaves(const FittedTree& tree) : columns(tree.columns) {
    ForEachLeaf(tree, [&](double value, const Edges& lo, const Edges& hi) {
      double v = 1;
      for (size_t c = 0; c < columns; ++c) {
        const int column = static_cast<int>(c);
        v *= tree.Edge(column, hi[c]) - tree.Edge(column, lo[c]);
      }
      values.push_back(value);
      volumes.push_back(v);
      boxes.insert(boxes.end(), lo.begin(), lo.end());
      boxes.insert(boxes.end(), hi.begin(), hi.end());
    });
  }
  size_t size() const { return values.size(); }
  int Lo(size_t leaf, int column) const { return boxes[2 * columns * leaf + column]; }
  int Hi(size_t leaf, int column) const { return boxes[2 * columns * leaf + columns + column]; }
};

// The variance of the marginal of one column over the tree's partition: the column's domain is
// cut at every split point of the tree on it, the marginal in an interval is the average over the
// other columns of the tree's prediction (each leaf weighs the volume of its box in the other
// columns), and the intervals weigh their length. Linear in the leaves, on a difference array.
double MarginalVarianceOfColumn(const FittedTree& tree, const Leaves& leaves, int column) {
  const std::vector<double>& cuts = tree.thresholds[column];
  const size_t cells = cuts.size() + 1;
  std::vector<double> sum(cells + 1, 0.0), weight(cells + 1, 0.0);
  for (size_t l = 0; l < leaves.size(); ++l) {
    const int a = leaves.Lo(l, column), b = leaves.Hi(l, column);
    const double w = leaves.volumes[l] / (tree.Edge(column, b) - tree.Edge(column, a));
    sum[a] += w * leaves.values[l];
    sum[b] -= w * leaves.values[l];
    weight[a] += w;
    weight[b] -= w;
  }
  double m1 = 0, m2 = 0, s = 0, wsum = 0;
  for (size_t i = 0; i < cells; ++i) {
    s += sum[i];
    wsum += weight[i];
    const double size = (i == cells - 1 ? 1.0 : cuts[i]) - (i == 0 ? 0.0 : cuts[i - 1]);
    if (!(wsum > 0) || !(size > 0)) continue;
    const double m = s / wsum;
    m1 += size * m;
    m2 += size * m * m;
  }
  return std::max(0.0, m2 - m1 * m1);
}

// The same variance for several columns together (a categorical parameter's one-hot columns,
// each split at most at 0.5): from the leaves' projections onto these columns, E[m] and E[m^2] as
// sums over pairs of distinct projections of their overlap. Quadratic in the projections, which
// are few (at most 3 per column).
double MarginalVariancePairs(const FittedTree& tree, const Leaves& leaves,
                             const std::vector<int>& group) {
  std::map<std::vector<double>, double> projected;  // box (lo, hi per column) -> sum of w * value
  std::vector<double> box;
  for (size_t l = 0; l < leaves.size(); ++l) {
    box.clear();
    double width = 1;
    for (int c : group) {
      box.push_back(tree.Edge(c, leaves.Lo(l, c)));
      box.push_back(tree.Edge(c, leaves.Hi(l, c)));
      width *= box[box.size() - 1] - box[box.size() - 2];
    }
    projected[box] += leaves.volumes[l] / width * leaves.values[l];
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
  const Leaves leaves(tree);
  const std::vector<double>& volumes = leaves.volumes;
  const std::vector<double>& values = leaves.values;
  double v_total = 0, mean = 0;
  for (size_t l = 0; l < values.size(); ++l) {
    v_total += volumes[l];
    mean += volumes[l] * values[l];
  }
  mean /= v_total;
  double variance = 0;
  for (size_t l = 0; l < values.size(); ++l)
    variance += volumes[l] * (values[l] - mean) * (values[l] - mean);
  variance /= v_total;
  if (!(variance > 0)) return {};
  std::vector<double> out(groups.size(), 0.0);
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<int> split;  // the group's columns this tree splits on
    for (int c : groups[g].columns)
      if (!tree.thresholds[c].empty()) split.push_back(c);
    if (split.empty()) continue;
    // One column (a numeric parameter): linear in the leaves. More
    // (a categorical's one-hot columns, one split point each): pairs of distinct projections.
    const double marginal = split.size() == 1 ? MarginalVarianceOfColumn(tree, leaves, split[0])
                                              : MarginalVariancePairs(tree, leaves, split);
    out[g] = marginal / variance;
  }
  return out;
}

// The trials used, encoded, with the target standardised (the fractions do not change, and the
// purity test does not depend on the objective's scale) and each column's rows by value. `ready`
// is false when there is nothing to fit (fewer than 2 trials, a constant objective, no column).
struct Prepared {
  ImportanceResult result;
  Encoded data;
  std::vector<std::vector<int>> sorted;
  bool ready = false;
};

Prepared Prepare(const StudySpec& spec, const std::vector<TrialRecord>& trials, uint64_t seed) {
  Prepared p;
  p.result.seed = seed;
  const std::vector<const TrialRecord*> used = SelectTrials(trials, seed);
  p.result.trials_used = static_cast<int64_t>(used.size());
  if (used.size() < 2) return p;
  p.data = Encode(spec, used, seed);
  std::vector<double>& y = p.data.y;
  double mean = 0, var = 0;
  for (double v : y) mean += v;
  mean /= y.size();
  for (double v : y) var += (v - mean) * (v - mean);
  var /= y.size();
  if (!(var > 0) || p.data.columns.empty()) return p;
  for (double& v : y) v = (v - mean) / std::sqrt(var);
  p.sorted.resize(p.data.columns.size());
  for (size_t c = 0; c < p.data.columns.size(); ++c) {
    std::vector<int>& order = p.sorted[c];
    order.resize(y.size());
    std::iota(order.begin(), order.end(), 0);
    const auto& x = p.data.columns[c];
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] < x[b]; });
  }
  p.ready = true;
  return p;
}

}  // namespace

ImportanceResult ComputeImportance(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   uint64_t seed, int threads) {
  Prepared p = Prepare(spec, trials, seed);
  ImportanceResult& result = p.result;
  if (!p.ready) return result;
  const std::vector<Group>& groups = p.data.groups;
  std::vector<std::vector<double>> fractions(kImportanceTrees);
  ParallelFor(
      kImportanceTrees,
      [&](int64_t t) {
        TreeBuilder builder(p.data, p.sorted, DeriveSeed(seed, static_cast<uint64_t>(t)));
        fractions[t] = TreeFractions(builder.Build(), groups);
      },
      ParallelOptions{threads, nullptr, std::chrono::milliseconds(0)});

  std::vector<double> total(groups.size(), 0.0);
  int counted = 0;
  for (const auto& f : fractions) {
    if (f.empty()) continue;
    ++counted;
    for (size_t g = 0; g < f.size(); ++g) total[g] += f[g];
  }
  double sum = 0;
  for (double& v : total) sum += v /= std::max(counted, 1);
  if (!(sum > 0)) return result;
  for (size_t g = 0; g < groups.size(); ++g)
    result.importances.push_back({groups[g].spec->name, total[g] / sum});
  std::sort(result.importances.begin(), result.importances.end(),
            [](const ParamImportance& a, const ParamImportance& b) {
              return a.importance != b.importance ? a.importance > b.importance : a.param < b.param;
            });
  return std::move(result);
}

nlohmann::json FirstImportanceTree(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   uint64_t seed) {
  Prepared p = Prepare(spec, trials, seed);
  if (!p.ready) return nullptr;
  TreeBuilder builder(p.data, p.sorted, DeriveSeed(seed, 0));
  const FittedTree tree = builder.Build();
  nlohmann::json j = {{"columns", tree.columns},
                      {"nodes", nlohmann::json::array()},
                      {"params", nlohmann::json::array()},
                      {"fractions", TreeFractions(tree, p.data.groups)}};
  for (const Node& n : tree.nodes) j["nodes"].push_back({n.column, n.at, n.left, n.right});
  for (const Group& g : p.data.groups)
    j["params"].push_back({{"param", g.spec->name}, {"columns", g.columns}});
  return j;
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
