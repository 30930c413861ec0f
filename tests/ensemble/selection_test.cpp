#include "ensemble/selection.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <set>

#include "core/rng.h"
#include "ensemble/candidate_pool.h"
#include "ensemble/candidate_stack.h"
#include "ensemble/greedy.h"
#include "ensemble/weight_optimizer.h"

using namespace ensweep;

namespace {

// Candidates given as per-row probability rows; labels per row.
CandidateStack Stack(const std::vector<std::vector<std::vector<float>>>& candidates,
                     const std::vector<int>& labels) {
  std::vector<Matrix> matrices;
  for (const auto& rows : candidates) {
    Matrix m;
    m.rows = static_cast<int64_t>(rows.size());
    m.cols = static_cast<int64_t>(rows[0].size());
    for (const auto& row : rows) m.values.insert(m.values.end(), row.begin(), row.end());
    matrices.push_back(m);
  }
  std::vector<const Matrix*> pointers;
  for (const auto& m : matrices) pointers.push_back(&m);
  return StackCandidates(pointers, labels);
}

// Random probability rows (a softmax of scaled normals, nudged toward the label
// by `skill[c]`).
CandidateStack RandomStack(int64_t candidates, int64_t rows, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  CandidateStack s;
  s.candidates = candidates;
  s.rows = rows;
  s.cols = cols;
  for (int64_t r = 0; r < rows; ++r) s.labels.push_back(static_cast<int>(rng.Below(cols)));
  for (int64_t c = 0; c < candidates; ++c) {
    const double skill = 0.5 + 2.0 * rng.Uniform();
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> logits(static_cast<size_t>(cols));
      double total = 0;
      for (int64_t k = 0; k < cols; ++k) {
        logits[k] = std::exp(rng.Normal() + (k == s.labels[r] ? skill : 0.0));
        total += logits[k];
      }
      for (double v : logits) s.probs.push_back(static_cast<float>(v / total));
    }
  }
  return s;
}

std::vector<double> WeightsOf(const std::vector<int64_t>& picks, int64_t candidates) {
  std::vector<double> w(static_cast<size_t>(candidates), 0.0);
  for (int64_t c : picks) w[c] += 1.0 / static_cast<double>(picks.size());
  return w;
}

// Two classes; A is right on rows 0 and 2, B only on row 1; only the blend 2A +
// B is right on all.
CandidateStack NeedsAPickTwice() {
  return Stack(
      {{{0.9f, 0.1f}, {0.6f, 0.4f}, {0.8f, 0.2f}}, {{0.0f, 1.0f}, {0.0f, 1.0f}, {0.0f, 1.0f}}},
      {0, 1, 0});
}

}  // namespace

TEST_CASE(
    "greedy selection with replacement picks a member twice when that "
    "blend is best",
    "[ensemble][greedy]") {
  GreedyOptions options;
  options.rounds = 5;
  const GreedyResult result = GreedySelect(NeedsAPickTwice(), options);
  CHECK(result.picks == std::vector<int64_t>{0, 0, 1});  // cut back to the best iteration
  REQUIRE(result.weights.size() == 2);
  CHECK(result.weights[0] == Approx(2.0 / 3.0));
  CHECK(result.weights[1] == Approx(1.0 / 3.0));
  REQUIRE(result.trajectory.size() == 5);
  CHECK(result.trajectory[0] == Approx(0.4));  // A alone: class 0 F1 0.8, class 1 F1 0
  CHECK(result.trajectory[2] == Approx(1.0));
  CHECK(SelectionScore(NeedsAPickTwice(), result.weights, SelectionMetric::kMacroF1) == 1.0);
}

TEST_CASE(
    "greedy selection keeps only a perfect candidate when nothing "
    "improves on it",
    "[ensemble][greedy]") {
  const std::vector<std::vector<float>> perfect = {
      {0.9f, 0.05f, 0.05f}, {0.05f, 0.9f, 0.05f}, {0.05f, 0.05f, 0.9f}};
  const std::vector<std::vector<float>> wrong = {
      {0.2f, 0.6f, 0.2f}, {0.2f, 0.2f, 0.6f}, {0.6f, 0.2f, 0.2f}};
  const CandidateStack stack = Stack({wrong, perfect, wrong}, {0, 1, 2});
  const GreedyResult result = GreedySelect(stack, GreedyOptions{});
  CHECK(result.picks == std::vector<int64_t>{1});
  CHECK(result.weights == std::vector<double>{0.0, 1.0, 0.0});
  CHECK(result.trajectory.size() == 25);
}

TEST_CASE("sorted initialisation starts from the best n candidates", "[ensemble][greedy]") {
  const CandidateStack stack = RandomStack(6, 120, 5, 11);
  GreedyOptions options;
  options.init_size = 3;
  options.rounds = 3;
  const GreedyResult result = GreedySelect(stack, options);
  const auto single = ScoreEachCandidate(stack);
  std::vector<int64_t> order(6);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return single[a].macro_f1 > single[b].macro_f1; });
  CHECK(result.all_picks == std::vector<int64_t>{order[0], order[1], order[2]});
}

TEST_CASE("every greedy round takes a candidate with the best blend score", "[ensemble][greedy]") {
  const CandidateStack stack = RandomStack(7, 300, 18, 5);
  for (SelectionMetric metric : {SelectionMetric::kMacroF1, SelectionMetric::kLogLoss}) {
    GreedyOptions options;
    options.rounds = 8;
    options.metric = metric;
    options.threads = 2;
    const GreedyResult result = GreedySelect(stack, options);
    REQUIRE(result.all_picks.size() == 8);
    const bool loss = metric == SelectionMetric::kLogLoss;
    for (size_t i = 1; i < result.all_picks.size(); ++i) {
      std::vector<int64_t> prefix(result.all_picks.begin(), result.all_picks.begin() + i);
      double best = loss ? 1e300 : -1.0;
      for (int64_t c = 0; c < stack.candidates; ++c) {
        prefix.push_back(c);
        const double score = SelectionScore(stack, WeightsOf(prefix, 7), metric);
        best = loss ? std::min(best, score) : std::max(best, score);
        prefix.pop_back();
      }
      prefix.push_back(result.all_picks[i]);
      const double taken = SelectionScore(stack, WeightsOf(prefix, 7), metric);
      CHECK(taken == Approx(best).epsilon(1e-6));
      CHECK(result.trajectory[i] == Approx(taken).epsilon(1e-6));
    }
    const double kept = SelectionScore(stack, result.weights, metric);
    CHECK(kept ==
          Approx(loss ? *std::min_element(result.trajectory.begin(), result.trajectory.end())
                      : *std::max_element(result.trajectory.begin(), result.trajectory.end()))
              .epsilon(1e-6));
  }
}

TEST_CASE("greedy ties are broken by the seed, the same way every time", "[ensemble][greedy]") {
  const std::vector<std::vector<float>> rows = {{0.7f, 0.3f}, {0.4f, 0.6f}};
  const CandidateStack stack = Stack({rows, rows, rows, rows}, {0, 1});  // four equal candidates
  std::set<std::vector<int64_t>> sequences;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    GreedyOptions options;
    options.rounds = 6;
    options.seed = seed;
    const GreedyResult first = GreedySelect(stack, options);
    const GreedyResult again = GreedySelect(stack, options);
    CHECK(first.all_picks == again.all_picks);
    CHECK(first.weights == again.weights);
    sequences.insert(first.all_picks);
  }
  CHECK(sequences.size() > 1);  // the seed, not the candidate order, decides ties
}

TEST_CASE("bagged greedy selection is deterministic for a seed and sums to one",
          "[ensemble][greedy][bagging]") {
  const CandidateStack stack = RandomStack(12, 200, 18, 3);
  GreedyOptions options;
  options.bags = 5;
  options.rounds = 10;
  options.seed = 42;
  const GreedyResult a = GreedySelect(stack, options);
  options.threads = 2;
  const GreedyResult b = GreedySelect(stack, options);
  CHECK(a.weights == b.weights);
  CHECK(std::accumulate(a.weights.begin(), a.weights.end(), 0.0) == Approx(1.0));
  options.seed = 43;
  CHECK(GreedySelect(stack, options).weights != a.weights);
  options.bag_fraction = 0;
  CHECK_THROWS(GreedySelect(stack, options));
}

TEST_CASE("the weight optimiser reduces log-loss and stays on the simplex", "[ensemble][weights]") {
  const CandidateStack stack = RandomStack(8, 400, 18, 9);
  const WeightResult result = OptimizeWeights(stack, WeightOptions{});
  CHECK(result.final_log_loss < result.initial_log_loss);
  CHECK(result.steps > 0);
  CHECK(std::accumulate(result.weights.begin(), result.weights.end(), 0.0) == Approx(1.0));
  for (double w : result.weights) CHECK(w >= 0.0);
  CHECK(ScoreBlend(stack, result.weights).log_loss == Approx(result.final_log_loss).epsilon(1e-4));
  std::vector<double> uniform(8, 1.0 / 8);
  CHECK(ScoreBlend(stack, result.weights).log_loss < ScoreBlend(stack, uniform).log_loss);

  WeightOptions sparse;
  sparse.max_members = 2;
  const WeightResult two = OptimizeWeights(stack, sparse);
  CHECK(std::count_if(two.weights.begin(), two.weights.end(), [](double w) { return w > 0; }) <= 2);
  CHECK(std::accumulate(two.weights.begin(), two.weights.end(), 0.0) == Approx(1.0));
}

TEST_CASE("the weight optimiser moves the weight to the candidate that is right",
          "[ensemble][weights]") {
  const CandidateStack stack =
      Stack({{{0.2f, 0.8f}, {0.7f, 0.3f}}, {{0.8f, 0.2f}, {0.3f, 0.7f}}}, {0, 1});
  const WeightResult result = OptimizeWeights(stack, WeightOptions{});
  CHECK(result.weights[1] > 0.95);
  CHECK(result.final_log_loss < -std::log(0.5));
}

TEST_CASE("uniform takes the best k candidates with equal weights", "[ensemble][uniform]") {
  const CandidateStack stack = RandomStack(5, 150, 6, 2);
  SelectionOptions options;
  options.method = "uniform";
  options.size = 2;
  const std::vector<double> w = SelectEnsemble(stack, options);
  const auto single = ScoreEachCandidate(stack);
  std::vector<size_t> order(5);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return single[a].macro_f1 > single[b].macro_f1; });
  CHECK(w[order[0]] == 0.5);
  CHECK(w[order[1]] == 0.5);
  CHECK(std::accumulate(w.begin(), w.end(), 0.0) == Approx(1.0));
  options.method = "nope";
  CHECK_THROWS(SelectEnsemble(stack, options));
}

TEST_CASE("the honest estimate selects and scores on disjoint halves of the persons",
          "[ensemble][honest]") {
  std::vector<std::string> persons;
  for (int p = 0; p < 11; ++p) {
    for (int photo = 0; photo < 3; ++photo) persons.push_back("person" + std::to_string(p));
  }
  const PersonHalves halves = SplitPersonsInHalves(persons, 7);
  std::set<std::string> first, second;
  for (int64_t r : halves.rows[0]) first.insert(persons[r]);
  for (int64_t r : halves.rows[1]) second.insert(persons[r]);
  CHECK(first.size() == 6);
  CHECK(second.size() == 5);
  for (const auto& p : first) CHECK(second.count(p) == 0);
  CHECK(halves.rows[0].size() + halves.rows[1].size() == persons.size());
  CHECK(SplitPersonsInHalves(persons, 7).rows[0] == halves.rows[0]);
  bool differs = false;
  for (uint64_t seed = 8; seed < 12; ++seed) {
    differs = differs || SplitPersonsInHalves(persons, seed).rows[0] != halves.rows[0];
  }
  CHECK(differs);
  CHECK_THROWS(SplitPersonsInHalves({"a", "a"}, 0));

  CandidateStack stack = RandomStack(6, static_cast<int64_t>(persons.size()), 4, 1);
  const HonestEstimate estimate = EstimateHonestly(stack, halves, SelectionOptions{});
  CHECK(estimate.mean.macro_f1 ==
        Approx((estimate.halves[0].macro_f1 + estimate.halves[1].macro_f1) / 2));
  CHECK(estimate.mean.accuracy >= 0.0);
  CHECK(estimate.mean.accuracy <= 1.0);
}

TEST_CASE(
    "the candidate pool ranks complete trials, optionally pruned ones "
    "and one per backbone",
    "[ensemble][pool]") {
  auto trial = [](int64_t number, TrialState state, std::optional<double> value,
                  const std::string& backbone) {
    TrialRecord t;
    t.number = number;
    t.state = state;
    t.value = value;
    t.params = {{"backbone", backbone}};
    return t;
  };
  const std::vector<TrialRecord> trials = {
      trial(0, TrialState::kComplete, 0.5, "resnet18"), trial(1, TrialState::kPruned, 0.9, "cnn"),
      trial(2, TrialState::kComplete, 0.7, "resnet18"), trial(3, TrialState::kFailed, 0.99, "cnn"),
      trial(4, TrialState::kComplete, 0.6, "cnn"),      trial(5, TrialState::kComplete, {}, "cnn")};
  auto numbers = [](const std::vector<TrialRecord>& chosen) {
    std::vector<int64_t> n;
    for (const auto& t : chosen) n.push_back(t.number);
    return n;
  };
  PoolOptions options;
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{2, 4, 0});
  CHECK(numbers(ChooseCandidates(trials, false, options)) == std::vector<int64_t>{0, 4, 2});
  options.candidates = 2;
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{2, 4});
  options.include_pruned = true;
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{1, 2});
  options.one_per = {"backbone"};
  options.candidates = 0;
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{1, 2});
}

TEST_CASE("a configuration family is the tuple of the one_per parameters' values",
          "[ensemble][pool]") {
  auto trial = [](int64_t number, double value, const Json& params) {
    TrialRecord t;
    t.number = number;
    t.state = TrialState::kComplete;
    t.value = value;
    t.params = params;
    return t;
  };
  const std::vector<TrialRecord> trials = {
      trial(0, 0.9, {{"backbone", "resnet18"}, {"head", "single"}, {"lr", 0.1}}),
      trial(1, 0.8, {{"backbone", "resnet18"}, {"head", "single"}, {"lr", 0.2}}),
      trial(2, 0.7, {{"backbone", "resnet18"}, {"head", "multitask"}, {"lr", 0.1}}),
      trial(3, 0.6, {{"backbone", "cnn"}, {"head", "single"}, {"lr", 0.1}}),
      trial(4, 0.5, {{"backbone", "cnn"}, {"lr", 0.1}}),  // no head: null in its family
      trial(5, 0.4, {{"backbone", "cnn"}, {"lr", 0.3}})};
  auto numbers = [](const std::vector<TrialRecord>& chosen) {
    std::vector<int64_t> n;
    for (const auto& t : chosen) n.push_back(t.number);
    return n;
  };
  PoolOptions options;
  options.one_per = {"backbone", "head"};
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{0, 2, 3, 4});
  options.one_per = {"lr"};  // numbers compare by value
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{0, 1, 5});
  options.candidates = 2;
  CHECK(numbers(ChooseCandidates(trials, true, options)) == std::vector<int64_t>{0, 1});
  CHECK(FamilyOf(trials[4], {"backbone", "head"}) == R"(["cnn",null])");
  CHECK(FamilyOf(trials[3], {"backbone", "head"}) != FamilyOf(trials[4], {"backbone", "head"}));

  EnsembleSpec spec;
  CHECK(FamilyKeys(spec).empty());
  spec.one_per_backbone = true;  // the shorthand for one_per: [backbone]
  CHECK(FamilyKeys(spec) == std::vector<std::string>{"backbone"});
  spec.one_per = {"head"};
  CHECK(FamilyKeys(spec) == std::vector<std::string>{"backbone", "head"});
  spec.one_per = {"head", "backbone"};
  CHECK(FamilyKeys(spec) == std::vector<std::string>{"head", "backbone"});
}

TEST_CASE(
    "the honest estimate chooses the pool per half on the selection "
    "half's rows",
    "[ensemble][honest]") {
  // Four persons, one row each; halves {0, 1} and {2, 3}. Candidate 0 is right
  // on the first half only, 1 on the second only, 2 on one row of each: on the
  // whole set they tie.
  const CandidateStack stack = Stack({{{0.9f, 0.1f}, {0.1f, 0.9f}, {0.1f, 0.9f}, {0.9f, 0.1f}},
                                      {{0.1f, 0.9f}, {0.9f, 0.1f}, {0.9f, 0.1f}, {0.1f, 0.9f}},
                                      {{0.9f, 0.1f}, {0.9f, 0.1f}, {0.9f, 0.1f}, {0.9f, 0.1f}}},
                                     {0, 1, 0, 1});
  PersonHalves halves;
  halves.rows[0] = {0, 1};
  halves.rows[1] = {2, 3};
  SelectionOptions options;
  options.method = "uniform";
  options.size = 1;
  HalfPool pool;
  pool.size = 1;
  const HonestEstimate estimate = EstimateHonestly(stack, halves, options, pool);
  // Half 0 is scored with what is best on half 1 (candidate 1), and the other
  // way round.
  CHECK(estimate.pool[0] == std::vector<int64_t>{1});
  CHECK(estimate.pool[1] == std::vector<int64_t>{0});
  CHECK(estimate.weights[0] == std::vector<double>{0.0, 1.0, 0.0});
  CHECK(estimate.weights[1] == std::vector<double>{1.0, 0.0, 0.0});
  CHECK(estimate.mean.accuracy == 0.0);  // the honest truth: neither generalises
  pool.families = {"a", "a", "b"};       // candidates 0 and 1 are one family
  CHECK(ChoosePoolOnRows(TakeRows(stack, halves.rows[1]), {2, pool.families},
                         SelectionMetric::kMacroF1) == std::vector<int64_t>{1, 2});

  // On random data, with families, a pool limit and greedy: changing the rows a
  // half is scored on never changes what was chosen for it.
  const CandidateStack random = RandomStack(10, 80, 6, 21);
  std::vector<std::string> persons;
  for (int r = 0; r < 80; ++r) persons.push_back("p" + std::to_string(r / 4));
  const PersonHalves random_halves = SplitPersonsInHalves(persons, 3);
  SelectionOptions greedy;
  greedy.greedy.rounds = 6;
  HalfPool limited;
  limited.size = 4;
  limited.families = {"x", "y", "z", "x", "y", "z", "w", "w", "v", "v"};
  const HonestEstimate before = EstimateHonestly(random, random_halves, greedy, limited);
  for (int h = 0; h < 2; ++h) {
    INFO("half " << h);
    CandidateStack changed = random;
    Rng rng(99 + h);
    for (int64_t r : random_halves.rows[h]) {
      for (int64_t c = 0; c < changed.candidates; ++c) {
        for (int64_t k = 0; k < changed.cols; ++k) {
          changed.probs[(c * changed.rows + r) * changed.cols + k] =
              static_cast<float>(rng.Uniform());
        }
      }
    }
    const HonestEstimate after = EstimateHonestly(changed, random_halves, greedy, limited);
    CHECK(after.pool[h] == before.pool[h]);
    CHECK(after.weights[h] == before.weights[h]);
    CHECK(before.pool[h].size() == 4);
    std::set<std::string> families;
    for (int64_t c : before.pool[h]) families.insert(limited.families[c]);
    CHECK(families.size() == 4);
    // ... and is exactly the pool ranked on the selection half alone.
    CHECK(before.pool[h] == ChoosePoolOnRows(TakeRows(random, random_halves.rows[1 - h]), limited,
                                             SelectionMetric::kMacroF1));
  }
}
