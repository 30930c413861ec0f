#include "analysis/importance.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>

#include "core/rng.h"

using namespace ensweep;

namespace {

StudySpec SpecWith(const std::string& space_json) {
  const Json doc = {{"study", "importance"},
                    {"storage", "/unused/s.sqlite"},
                    {"artifacts", "/unused/artifacts"},
                    {"data", {{"train", "/unused"}}},
                    {"space", Json::parse(space_json)}};
  return ParseStudy(doc, "test", "/");
}

// `count` COMPLETE trials whose parameters are drawn at random from `draw` and whose value is
// `objective` of them.
std::vector<TrialRecord> Trials(int count, uint64_t seed, const std::function<Json(Rng&)>& draw,
                                const std::function<double(const Json&)>& objective) {
  Rng rng(seed);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < count; ++i) {
    TrialRecord t;
    t.number = i;
    t.state = TrialState::kComplete;
    t.params = draw(rng);
    t.value = objective(t.params);
    trials.push_back(std::move(t));
  }
  return trials;
}

std::map<std::string, double> ByName(const ImportanceResult& r) {
  std::map<std::string, double> out;
  for (const auto& p : r.importances) out[p.param] = p.importance;
  return out;
}

void CheckNormalisedAndSorted(const ImportanceResult& r) {
  double sum = 0;
  for (size_t i = 0; i < r.importances.size(); ++i) {
    sum += r.importances[i].importance;
    CHECK(r.importances[i].importance >= 0);
    if (i > 0) CHECK(r.importances[i - 1].importance >= r.importances[i].importance);
  }
  CHECK(sum == Approx(1.0).margin(1e-9));
}

const char* kThreeFloats = R"({"x": {"uniform": [0, 1]}, "y": {"uniform": [-2, 2]},
                               "z": {"uniform": [0, 10]}})";

Json DrawThreeFloats(Rng& rng) {
  return {{"x", rng.Uniform(0, 1)}, {"y", rng.Uniform(-2, 2)}, {"z", rng.Uniform(0, 10)}};
}

}  // namespace

TEST_CASE("a parameter the objective ignores gets near-zero importance and the dominant one leads",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  const auto trials = Trials(300, 7, DrawThreeFloats, [](const Json& p) {
    return 10 * std::pow(p["x"].get<double>() - 0.3, 2) + 0.1 * p["y"].get<double>();
  });
  const ImportanceResult r = ComputeImportance(spec, trials, 3);
  REQUIRE(r.importances.size() == 3);
  CheckNormalisedAndSorted(r);
  CHECK(r.method == "fanova");
  CHECK(r.trials_used == 300);
  CHECK(r.seed == 3);
  const auto by = ByName(r);
  CHECK(r.importances[0].param == "x");
  CHECK(by.at("x") > 0.7);
  CHECK(by.at("y") > by.at("z"));
  CHECK(by.at("z") < 0.05);
}

TEST_CASE("the same trials and seed give the same importances with any number of threads",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  const auto trials = Trials(200, 8, DrawThreeFloats, [](const Json& p) {
    return p["x"].get<double>() * p["y"].get<double>() + std::sin(p["z"].get<double>());
  });
  const ImportanceResult one = ComputeImportance(spec, trials, 5, 1);
  const ImportanceResult four = ComputeImportance(spec, trials, 5, 4);
  REQUIRE(one.importances.size() == four.importances.size());
  for (size_t i = 0; i < one.importances.size(); ++i) {
    CHECK(one.importances[i].param == four.importances[i].param);
    CHECK(one.importances[i].importance == four.importances[i].importance);
  }
  const ImportanceResult other = ComputeImportance(spec, trials, 6, 1);
  CHECK(other.seed == 6);
  bool differs = false;
  for (size_t i = 0; i < one.importances.size(); ++i)
    differs |= ByName(other).at(one.importances[i].param) != one.importances[i].importance;
  CHECK(differs);  // another seed grows another forest
}

TEST_CASE("a categorical parameter is assessed as one parameter over its one-hot columns",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(R"({"backbone": {"choice": ["a", "b", "c", "d"]},
                                      "lr": {"log_uniform": [1e-4, 1e-1]},
                                      "batch": {"int": [16, 128], "step": 16},
                                      "unused": {"choice": [true, false]}})");
  const std::map<std::string, double> offset = {{"a", 0}, {"b", 3}, {"c", 1}, {"d", 5}};
  const auto trials = Trials(
      300, 9,
      [](Rng& rng) {
        const char* names[] = {"a", "b", "c", "d"};
        return Json{{"backbone", names[rng.Below(4)]},
                    {"lr", std::exp(rng.Uniform(std::log(1e-4), std::log(1e-1)))},
                    {"batch", 16 * (1 + static_cast<int>(rng.Below(8)))},
                    {"unused", rng.Below(2) == 1}};
      },
      [&](const Json& p) {
        return offset.at(p["backbone"].get<std::string>()) +
               0.3 * std::log10(p["lr"].get<double>()) + 0.001 * p["batch"].get<int>();
      });
  const ImportanceResult r = ComputeImportance(spec, trials, 1);
  REQUIRE(r.importances.size() == 4);
  CheckNormalisedAndSorted(r);
  const auto by = ByName(r);
  CHECK(r.importances[0].param == "backbone");
  CHECK(by.at("lr") > by.at("unused"));
  CHECK(by.at("unused") < 0.05);
}

TEST_CASE("conditional parameters are assessed where present, their presence left to their parent",
          "[analysis][importance]") {
  // `alpha` and `beta` exist only with head = multi; the objective reads alpha there, never beta.
  const StudySpec spec = SpecWith(R"({"head": {"choice": ["single", "multi"]},
                                      "alpha": {"uniform": [0, 1], "when": {"head": "multi"}},
                                      "beta": {"uniform": [0, 1], "when": {"head": "multi"}},
                                      "x": {"uniform": [0, 1]}})");
  const auto trials = Trials(
      400, 10,
      [](Rng& rng) {
        Json p = {{"head", rng.Below(2) ? "multi" : "single"}, {"x", rng.Uniform()}};
        if (p["head"] == "multi") {
          p["alpha"] = rng.Uniform();
          p["beta"] = rng.Uniform();
        }
        return p;
      },
      [](const Json& p) {
        const double base = 0.2 * p["x"].get<double>();
        return p["head"] == "multi" ? base + 2 * p["alpha"].get<double>() : base + 1.0;
      });
  const ImportanceResult r = ComputeImportance(spec, trials, 2);
  REQUIRE(r.importances.size() == 4);  // Optuna's default would leave alpha and beta out
  CheckNormalisedAndSorted(r);
  const auto by = ByName(r);
  CHECK(r.importances[0].param == "alpha");
  CHECK(by.at("beta") < 0.05);
  CHECK(by.at("x") > by.at("beta"));

  SECTION("a parameter absent from every trial used is left out") {
    std::vector<TrialRecord> single;
    for (const auto& t : trials)
      if (t.params["head"] == "single") single.push_back(t);
    const ImportanceResult s = ComputeImportance(spec, single, 2);
    CHECK(ByName(s).count("alpha") == 0);
    CHECK(ByName(s).count("beta") == 0);
    REQUIRE(s.importances.size() == 2);  // head (one value: 0) and x
    CHECK(s.importances[0].param == "x");
    CHECK(s.importances[0].importance == Approx(1.0));
    CHECK(ByName(s).at("head") == 0.0);
  }
}

TEST_CASE("only COMPLETE trials with a finite value count, and fewer than two give no importance",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  auto trials = Trials(50, 11, DrawThreeFloats, [](const Json& p) { return p["x"].get<double>(); });
  for (size_t i = 0; i < trials.size(); ++i) {
    if (i % 5 == 1) trials[i].state = TrialState::kPruned;
    if (i % 5 == 2) trials[i].state = TrialState::kFailed;
    if (i % 5 == 3) trials[i].value = NAN;
  }
  CHECK(ComputeImportance(spec, trials).trials_used == 20);
  std::vector<TrialRecord> one = {trials[0]};
  const ImportanceResult r = ComputeImportance(spec, one);
  CHECK(r.trials_used == 1);
  CHECK(r.importances.empty());
  CHECK(ComputeImportance(spec, {}).importances.empty());
}

TEST_CASE("an objective that is the same in every trial gives no importance",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  const auto trials = Trials(40, 12, DrawThreeFloats, [](const Json&) { return 0.5; });
  const ImportanceResult r = ComputeImportance(spec, trials);
  CHECK(r.trials_used == 40);
  CHECK(r.importances.empty());
}

TEST_CASE("beyond 5,000 trials a seeded random subset of 5,000 is used", "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  const auto trials = Trials(20000, 13, DrawThreeFloats, [](const Json& p) {
    return std::pow(p["y"].get<double>(), 2) + 0.2 * p["x"].get<double>();
  });
  const ImportanceResult r = ComputeImportance(spec, trials, 4);
  CHECK(r.trials_used == kMaxImportanceTrials);
  CheckNormalisedAndSorted(r);
  const auto by = ByName(r);
  CHECK(r.importances[0].param == "y");
  CHECK(by.at("z") < 0.05);
  const ImportanceResult again = ComputeImportance(spec, trials, 4);
  CHECK(ByName(again) == by);
}

TEST_CASE("importance as JSON names the method, the trials used, the seed and the list",
          "[analysis][importance]") {
  const StudySpec spec = SpecWith(kThreeFloats);
  const auto trials =
      Trials(30, 14, DrawThreeFloats, [](const Json& p) { return p["z"].get<double>(); });
  const Json j = ImportanceToJson(ComputeImportance(spec, trials, 9));
  CHECK(j["method"] == "fanova");
  CHECK(j["trials_used"] == 30);
  CHECK(j["seed"] == 9);
  REQUIRE(j["importances"].size() == 3);
  CHECK(j["importances"][0]["param"] == "z");
}

TEST_CASE("a categorical parameter with more than 32 choices is assessed on 32 columns",
          "[analysis][importance]") {
  Json choices = Json::array();
  for (int i = 0; i < 40; ++i) choices.push_back("c" + std::to_string(i));
  const StudySpec spec =
      SpecWith(R"({"pick": {"choice": )" + choices.dump() + R"(}, "x": {"uniform": [0, 1]}})");
  const auto trials = Trials(
      400, 15,
      [](Rng& rng) {
        return Json{{"pick", "c" + std::to_string(rng.Below(40))}, {"x", rng.Uniform()}};
      },
      [](const Json& p) {
        const int k = std::stoi(p["pick"].get<std::string>().substr(1));
        return (k % 3) + 0.1 * p["x"].get<double>();
      });
  const ImportanceResult r = ComputeImportance(spec, trials, 1);
  REQUIRE(r.importances.size() == 2);
  CheckNormalisedAndSorted(r);
  CHECK(r.importances[0].param == "pick");
  const Json tree = FirstImportanceTree(spec, trials, 1);
  REQUIRE(tree["params"][0]["param"] == "pick");
  CHECK(tree["params"][0]["columns"].size() == 32);
}
