#include "search/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/rng.h"
#include "search/parzen.h"
#include "search/space.h"

namespace ensweep {
namespace {

bool Scaled(const ParamSpec& p) {
  return p.kind == ParamKind::kLogUniform || (p.kind == ParamKind::kInt && p.log);
}

// The interval a numeric parameter is modelled on (log scale where the parameter is).
void Bounds(const ParamSpec& p, double* low, double* high) {
  if (p.kind == ParamKind::kInt) {
    const double half = p.log ? 0.5 : 0.5 * static_cast<double>(p.step);
    *low = p.low - half;
    *high = p.high + half;
  } else {
    *low = p.low;
    *high = p.high;
  }
  if (Scaled(p)) {
    *low = std::log(std::max(*low, 1e-300));
    *high = std::log(*high);
  }
}

// A stored value in the modelling space; false if the value is not in the parameter's domain
// (the space changed since that trial ran).
bool Encode(const ParamSpec& p, const Json& value, double* out) {
  if (p.kind == ParamKind::kChoice) {
    const auto it = std::find(p.choices.begin(), p.choices.end(), value);
    if (it == p.choices.end()) return false;
    *out = static_cast<double>(it - p.choices.begin());
    return true;
  }
  if (!value.is_number()) return false;
  const double v = value.get<double>();
  if (v < p.low || v > p.high) return false;
  *out = Scaled(p) ? std::log(v) : v;
  return true;
}

Json Decode(const ParamSpec& p, double x) {
  switch (p.kind) {
    case ParamKind::kChoice:
      return p.choices[static_cast<size_t>(x)];
    case ParamKind::kUniform:
      return std::clamp(x, p.low, p.high);
    case ParamKind::kLogUniform:
      return std::clamp(std::exp(x), p.low, p.high);
    case ParamKind::kInt: {
      const double v = p.log ? std::exp(x) : x;
      const auto low = static_cast<int64_t>(p.low);
      const auto high = static_cast<int64_t>(p.high);
      int64_t snapped = low + static_cast<int64_t>(std::llround((v - p.low) / p.step)) * p.step;
      while (snapped > high) snapped -= p.step;
      return std::max(snapped, low);
    }
    case ParamKind::kConstant:
      break;
  }
  return p.constant;
}

// Observations of one parameter in one group: values and weights, oldest trial first.
struct Observed {
  std::vector<double> values;
  std::vector<double> weights;
};

Observed Collect(const ParamSpec& p, const std::vector<const TrialRecord*>& group) {
  Observed o;
  for (const TrialRecord* t : group) {
    const auto it = t->params.find(p.name);
    double x;
    if (it != t->params.end() && Encode(p, *it, &x)) o.values.push_back(x);
  }
  // Every observation weighs the same. Optuna's default ramps the weights of all but the 25 newest
  // down towards 1/n; over 400 seeds of 100 trials that gave a higher median regret on both Branin
  // and Hartmann6 (bench/search/README.md).
  o.weights.assign(o.values.size(), 1.0);
  return o;
}

std::vector<size_t> AsIndices(const std::vector<double>& values) {
  std::vector<size_t> indices;
  for (double v : values) indices.push_back(static_cast<size_t>(v));
  return indices;
}

// One parameter's l(x) and g(x), numeric or categorical.
struct Densities {
  const ParamSpec* param;
  std::unique_ptr<NumericParzen> good_numeric, bad_numeric;
  std::unique_ptr<CategoricalParzen> good_choice, bad_choice;

  // `clip_scale`: the minimum bandwidth's scale (MinBandwidthScale); `bandwidth_good` and
  // `bandwidth_bad` > 0 fix the observation kernels' bandwidths as a fraction of the width.
  Densities(const ParamSpec& p, const Observed& good, const Observed& bad, double clip_scale,
            double bandwidth_good = 0, double bandwidth_bad = 0)
      : param(&p) {
    if (p.kind == ParamKind::kChoice) {
      good_choice = std::make_unique<CategoricalParzen>(AsIndices(good.values), good.weights,
                                                        p.choices.size());
      bad_choice =
          std::make_unique<CategoricalParzen>(AsIndices(bad.values), bad.weights, p.choices.size());
    } else {
      double low, high;
      Bounds(p, &low, &high);
      // Candidates are scored with bandwidth-weighted kernels (search/parzen.h says why).
      good_numeric =
          std::make_unique<NumericParzen>(good.values, good.weights, low, high, 1.0,
                                          bandwidth_good * (high - low), true, clip_scale);
      bad_numeric = std::make_unique<NumericParzen>(bad.values, bad.weights, low, high, 1.0,
                                                    bandwidth_bad * (high - low), true, clip_scale);
    }
  }
  double Sample(Rng& rng) const {
    return good_choice ? static_cast<double>(good_choice->Sample(rng)) : good_numeric->Sample(rng);
  }
  double Score(double x) const {
    if (good_choice)
      return good_choice->LogPdf(static_cast<size_t>(x)) -
             bad_choice->LogPdf(static_cast<size_t>(x));
    return good_numeric->LogPdf(x) - bad_numeric->LogPdf(x);
  }
};

// Bandwidth for d dimensions and n observations, as a fraction of the interval's width: half of
// the Scott's rule bandwidth Optuna uses (0.2 n^(-1/(d+4))). Over seeds 200-599 (100 trials, 12
// candidates, gamma 15 %) half the width lowered the median regret on Branin from 0.047 to 0.020
// and on Hartmann6 from 0.26 to 0.19; 0.4 and 0.6 of it were within noise of 0.5.
double ScottFactor(size_t n, size_t d) {
  return 0.1 * std::pow(static_cast<double>(std::max<size_t>(n, 1)),
                        -1.0 / (static_cast<double>(d) + 4.0));
}

// Scale of the kernels' minimum bandwidth with `finished` trials over `params` searched
// parameters: 1 (Optuna's magic clip, width / min(100, n + 2) for a group of n) until there are
// `per_param` trials per parameter, then sqrt(per_param * params / finished). The clip alone
// follows the size of the good group, which stops growing at gamma_cap, so a low-dimensional
// space that has been sampled densely was refined no more finely than a sparse one; Branin's
// median regret after 100 trials stayed near 0.014 for that reason. With 12 per parameter, over
// seeds 200-999 and budgets of 50 to 300 trials, Branin's median regret fell 1.5x to 10x and
// Hartmann6's was unchanged or lower (bench/search/README.md). A scale that shrinks faster (linear
// in 1/finished) or starts earlier (6 or 8 per parameter) also helped Branin but left Hartmann6
// in its local minima more often at 200 trials.
double MinBandwidthScale(size_t finished, size_t params, double per_param) {
  if (per_param <= 0 || finished == 0) return 1.0;
  const double ratio =
      per_param * static_cast<double>(std::max<size_t>(params, 1)) / static_cast<double>(finished);
  return std::min(1.0, std::sqrt(ratio));
}

class TpeSampler : public Sampler {
 public:
  explicit TpeSampler(const StudySpec& spec)
      : space_(spec.space), options_(spec.sampler), maximize_(spec.objective.maximize) {
    for (const auto& p : space_.params) searched_ += p.kind != ParamKind::kConstant;
  }

  Json Propose(int64_t number, const Json& fixed,
               const std::vector<TrialRecord>& history) override {
    std::vector<const TrialRecord*> finished, running;
    for (const auto& t : history) {
      if (t.number == number) continue;
      const bool has_value = t.value && std::isfinite(*t.value);
      if ((t.state == TrialState::kComplete || t.state == TrialState::kPruned) && has_value) {
        finished.push_back(&t);
      } else if (t.state == TrialState::kRunning && options_.constant_liar) {
        running.push_back(&t);
      }
    }
    if (static_cast<int>(finished.size()) < options_.startup_trials || finished.empty()) {
      Rng rng(DeriveSeed(DeriveSeed(options_.seed, StableHash("random_sampler")),
                         static_cast<uint64_t>(number)));
      return SampleParams(space_, rng, fixed);
    }
    Rng rng(DeriveSeed(DeriveSeed(options_.seed, StableHash("tpe_sampler")),
                       static_cast<uint64_t>(number)));
    // Best first: COMPLETE by value, then PRUNED by depth reached, then value; ties by number,
    // so the order is total and the good group does not depend on the history's order.
    auto better = [this](const TrialRecord* a, const TrialRecord* b) {
      const bool a_complete = a->state == TrialState::kComplete;
      const bool b_complete = b->state == TrialState::kComplete;
      if (a_complete != b_complete) return a_complete;
      if (!a_complete && a->epochs_done != b->epochs_done) return a->epochs_done > b->epochs_done;
      if (*a->value != *b->value) return maximize_ ? *a->value > *b->value : *a->value < *b->value;
      return a->number < b->number;
    };
    const size_t n = finished.size();
    const size_t good_count =
        std::min<size_t>(static_cast<size_t>(std::ceil(options_.gamma * static_cast<double>(n))),
                         static_cast<size_t>(options_.gamma_cap));
    std::vector<const TrialRecord*> ranked = finished;
    std::nth_element(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(good_count),
                     ranked.end(), better);
    // The good group is every trial at least as good as the worst of the first good_count.
    // `better` is a strict total order, so this is exactly those good_count trials. Each group is
    // kept oldest first (for observation weights): a stored history is already in number order,
    // so the groups are collected in `finished`'s order and sorted only when that is not so.
    const TrialRecord* worst_good =
        good_count > 0
            ? *std::max_element(ranked.begin(),
                                ranked.begin() + static_cast<std::ptrdiff_t>(good_count), better)
            : nullptr;
    std::vector<const TrialRecord*> good, bad;
    for (const TrialRecord* t : finished) {
      (worst_good && !better(worst_good, t) ? good : bad).push_back(t);
    }
    bad.insert(bad.end(), running.begin(), running.end());
    auto by_number = [](const TrialRecord* a, const TrialRecord* b) {
      return a->number < b->number;
    };
    if (!std::is_sorted(good.begin(), good.end(), by_number)) {
      std::sort(good.begin(), good.end(), by_number);
    }
    if (!std::is_sorted(bad.begin(), bad.end(), by_number)) {
      std::sort(bad.begin(), bad.end(), by_number);
    }

    const double clip_scale = MinBandwidthScale(n, searched_, options_.refine_after_per_param);
    Json params = Json::object();
    if (options_.multivariate) ProposeJoint(good, bad, fixed, rng, params);
    for (const auto& p : space_.params) {
      if (params.contains(p.name) || !ConditionsHold(p, params)) continue;
      const auto it = fixed.find(p.name);
      if (it != fixed.end()) {
        params[p.name] = *it;
      } else if (p.kind == ParamKind::kConstant) {
        params[p.name] = p.constant;
      } else {
        const Densities d(p, Collect(p, good), Collect(p, bad), clip_scale);
        double best = 0, best_score = -std::numeric_limits<double>::infinity();
        for (int c = 0; c < options_.candidates; ++c) {
          const double x = d.Sample(rng);
          const double score = d.Score(x);
          if (score > best_score) best = x, best_score = score;
        }
        params[p.name] = Decode(p, best);
      }
    }
    return params;
  }

 private:
  // Joint proposal for the unconditional, non-constant parameters, scored on the product of
  // per-dimension kernels. Trials lacking any of them (e.g. from an older space) are left out.
  void ProposeJoint(const std::vector<const TrialRecord*>& good_trials,
                    const std::vector<const TrialRecord*>& bad_trials, const Json& fixed, Rng& rng,
                    Json& params) const {
    std::vector<const ParamSpec*> dims;
    for (const auto& p : space_.params) {
      if (p.when.empty() && p.kind != ParamKind::kConstant) dims.push_back(&p);
    }
    if (dims.empty()) return;
    auto complete = [&](const std::vector<const TrialRecord*>& group) {
      std::vector<const TrialRecord*> kept;
      for (const TrialRecord* t : group) {
        double x;
        bool all = true;
        for (const ParamSpec* p : dims) {
          const auto it = t->params.find(p->name);
          all = all && it != t->params.end() && Encode(*p, *it, &x);
        }
        if (all) kept.push_back(t);
      }
      return kept;
    };
    const auto good = complete(good_trials);
    const auto bad = complete(bad_trials);
    std::vector<Densities> densities;
    for (const ParamSpec* p : dims) {
      // Scott's bandwidth already narrows as observations accumulate; the clip stays Optuna's
      // (scaling it as univariate proposals do made multivariate Branin worse: 0.017 -> 0.024
      // median regret over seeds 0-59).
      densities.emplace_back(*p, Collect(*p, good), Collect(*p, bad), 1.0,
                             ScottFactor(good.size(), dims.size()),
                             ScottFactor(bad.size(), dims.size()));
    }
    // Every kernel of a group (its observations and the prior) has the same mixture weight.
    auto joint_log_pdf = [&](const std::vector<double>& x, bool use_good) {
      const size_t kernels = (use_good ? good.size() : bad.size()) + 1;
      const double log_weight = -std::log(static_cast<double>(kernels));
      std::vector<double> terms(kernels);
      for (size_t k = 0; k < kernels; ++k) {
        double sum = log_weight;
        for (size_t d = 0; d < dims.size(); ++d) {
          const Densities& den = densities[d];
          if (den.good_choice) {
            const auto& cat = use_good ? *den.good_choice : *den.bad_choice;
            sum += cat.KernelLogPdf(k, static_cast<size_t>(x[d]));
          } else {
            const auto& num = use_good ? *den.good_numeric : *den.bad_numeric;
            sum += num.KernelLogPdf(k, x[d]);
          }
        }
        terms[k] = sum;
      }
      return LogSumExp(terms);
    };
    std::vector<double> best;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < options_.candidates; ++c) {
      // A kernel of l(x) (shared by every dimension), then each dimension from that kernel.
      const size_t kernel = densities.front().good_numeric
                                ? densities.front().good_numeric->SampleKernel(rng)
                                : UniformKernel(good.size() + 1, rng);
      std::vector<double> x;
      for (const Densities& den : densities) {
        x.push_back(den.good_choice
                        ? static_cast<double>(den.good_choice->SampleFromKernel(kernel, rng))
                        : den.good_numeric->SampleFromKernel(kernel, rng));
      }
      const double score = joint_log_pdf(x, true) - joint_log_pdf(x, false);
      if (score > best_score) best = x, best_score = score;
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      const auto it = fixed.find(dims[d]->name);
      params[dims[d]->name] = it != fixed.end() ? *it : Decode(*dims[d], best[d]);
    }
  }

  // A kernel index, every kernel (the prior last) equally likely; the same draw as
  // NumericParzen::SampleKernel makes with equal weights.
  static size_t UniformKernel(size_t kernels, Rng& rng) {
    return std::min(static_cast<size_t>(rng.Uniform() * static_cast<double>(kernels)), kernels - 1);
  }

  SearchSpace space_;
  SamplerSpec options_;
  bool maximize_;
  size_t searched_ = 0;  // parameters that are not constants
};

}  // namespace

std::unique_ptr<Sampler> MakeTpeSampler(const StudySpec& spec) {
  return std::make_unique<TpeSampler>(spec);
}

}  // namespace ensweep
