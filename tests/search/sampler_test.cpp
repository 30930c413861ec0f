#include "search/sampler.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "core/error.h"
#include "search/space.h"

using namespace ensweep;

namespace {

StudySpec SpecWithSpace(const std::string& space_yaml_json, const std::string& sampler = "random") {
  const Json doc = {{"study", "t"},
                    {"data", {{"train", "/t"}}},
                    {"sampler", {{"type", sampler}, {"seed", 5}}},
                    {"space", Json::parse(space_yaml_json)}};
  return ParseStudy(doc, "test", "/");
}

}  // namespace

TEST_CASE("random proposals are deterministic in the study seed and trial number",
          "[search][sampler]") {
  const StudySpec spec =
      SpecWithSpace(R"({"lr": {"log_uniform": [1e-4, 1e-1]}, "b": {"choice": ["x", "y", "z"]}})");
  auto a = MakeSampler(spec);
  auto b = MakeSampler(spec);
  for (int n = 0; n < 20; ++n)
    CHECK(a->Propose(n, Json::object(), {}) == b->Propose(n, Json::object(), {}));
  // Order of asking does not matter: trial 7 is trial 7.
  CHECK(a->Propose(7, Json::object(), {}) == b->Propose(7, Json::object(), {}));
  CHECK(a->Propose(1, Json::object(), {}) != a->Propose(2, Json::object(), {}));
  StudySpec other = spec;
  other.sampler.seed = 6;
  CHECK(MakeSampler(other)->Propose(1, Json::object(), {}) != a->Propose(1, Json::object(), {}));
}

TEST_CASE("uniform, log-uniform, int and choice draws follow their distributions",
          "[search][space]") {
  const StudySpec spec = SpecWithSpace(R"({
    "u": {"uniform": [2.0, 4.0]},
    "l": {"log_uniform": [1e-4, 1e-0]},
    "i": {"int": [10, 50], "step": 10},
    "c": {"choice": ["a", "b"]},
    "k": 0.9})");
  auto sampler = MakeSampler(spec);
  const int n = 4000;
  double u_sum = 0, log_sum = 0;
  int below_1e2 = 0, a_count = 0;
  std::set<int64_t> ints;
  for (int t = 0; t < n; ++t) {
    const Json p = sampler->Propose(t, Json::object(), {});
    const double u = p["u"], l = p["l"];
    REQUIRE(u >= 2.0);
    REQUIRE(u < 4.0);
    REQUIRE(l >= 1e-4);
    REQUIRE(l <= 1.0);
    u_sum += u;
    log_sum += std::log10(l);
    below_1e2 += l < 1e-2;
    ints.insert(p["i"].get<int64_t>());
    a_count += p["c"] == "a";
    REQUIRE(p["k"] == 0.9);
  }
  CHECK(u_sum / n == Approx(3.0).margin(0.05));
  CHECK(log_sum / n == Approx(-2.0).margin(0.08));           // uniform in log10 over [-4, 0]
  CHECK(below_1e2 / double(n) == Approx(0.5).margin(0.03));  // half the mass below 1e-2
  CHECK(ints == std::set<int64_t>{10, 20, 30, 40, 50});
  CHECK(a_count / double(n) == Approx(0.5).margin(0.03));
}

TEST_CASE("conditional parameters are drawn only when their condition holds", "[search][space]") {
  const StudySpec spec = SpecWithSpace(R"({
    "head": {"choice": ["single", "multitask"]},
    "age_loss_weight": {"uniform": [0.5, 3.0], "when": {"head": "multitask"}},
    "swa": {"choice": [false, true]},
    "swa_lr": {"log_uniform": [1e-4, 1e-2], "when": {"swa": true}}})");
  auto sampler = MakeSampler(spec);
  int multitask = 0;
  for (int t = 0; t < 500; ++t) {
    const Json p = sampler->Propose(t, Json::object(), {});
    CHECK(p.contains("age_loss_weight") == (p["head"] == "multitask"));
    CHECK(p.contains("swa_lr") == (p["swa"] == true));
    multitask += p["head"] == "multitask";
  }
  CHECK(multitask > 200);
  CHECK(multitask < 300);
}

TEST_CASE("fixed values of an enqueued trial are kept and the rest drawn", "[search][space]") {
  const StudySpec spec =
      SpecWithSpace(R"({"backbone": {"choice": ["a", "b"]}, "lr": {"uniform": [0.1, 0.2]}})");
  auto sampler = MakeSampler(spec);
  const Json p = sampler->Propose(0, Json{{"backbone", "b"}}, {});
  CHECK(p["backbone"] == "b");
  CHECK(p["lr"].get<double>() >= 0.1);
}

TEST_CASE("the grid sampler visits every combination once, honouring conditions",
          "[search][sampler]") {
  const StudySpec spec = SpecWithSpace(R"({
    "backbone": {"choice": ["custom_cnn", "resnet18"]},
    "lr": {"choice": [0.1, 0.01, 0.001]},
    "swa": {"choice": [false, true]},
    "swa_start": {"int": [2, 3], "when": {"swa": true}}})",
                                       "grid");
  auto sampler = MakeSampler(spec);
  // 2 backbones x 3 lr x (1 without swa + 2 swa starts) = 18 points.
  REQUIRE(sampler->Capacity());
  CHECK(*sampler->Capacity() == 18);
  std::set<std::string> seen;
  for (int n = 0; n < 18; ++n) {
    const Json p = sampler->Propose(n, Json::object(), {});
    CHECK(p.contains("swa_start") == (p["swa"] == true));
    seen.insert(p.dump());
  }
  CHECK(seen.size() == 18);
  CHECK_THROWS(sampler->Propose(18, Json::object(), {}));
}

TEST_CASE("the grid sampler rejects a continuous parameter by name", "[search][sampler]") {
  // When the study file is read ...
  try {
    SpecWithSpace(R"({"lr": {"uniform": [0.1, 0.2]}})", "grid");
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("space.lr"));
    CHECK_THAT(e.what(), Catch::Contains("grid sampler needs discrete parameters"));
  }
  // ... and for a spec built in code.
  StudySpec spec = SpecWithSpace(R"({"lr": {"uniform": [0.1, 0.2]}})");
  spec.sampler.type = SamplerType::kGrid;
  try {
    MakeSampler(spec);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("space.lr"));
  }
}

TEST_CASE("log-scale ints stay on the step grid and favour small values", "[search][space]") {
  const StudySpec spec = SpecWithSpace(R"({"n": {"int": [1, 1000], "log": true}})");
  auto sampler = MakeSampler(spec);
  int small = 0;
  for (int t = 0; t < 2000; ++t) {
    const int64_t v = sampler->Propose(t, Json::object(), {})["n"];
    REQUIRE(v >= 1);
    REQUIRE(v <= 1000);
    small += v < 32;
  }
  CHECK(small / 2000.0 == Approx(0.5).margin(0.05));  // log10(32) / log10(1001) ~ 0.5
}

namespace {

// The minimal case of a conditional grid with an enqueued trial that turns a condition off.
StudySpec ConditionalGrid(const std::string& sampler) {
  StudySpec spec = SpecWithSpace(R"({
    "backbone": {"choice": ["a", "b", "c"]},
    "head": {"choice": ["single", "multitask"], "when": {"backbone": ["b", "c"]}},
    "w": {"choice": [2.0], "when": {"head": "multitask"}}})",
                                 sampler);
  spec.enqueue = {Json{{"backbone", "c"}, {"head", "single"}}};
  spec.budget.trials = 100;
  return spec;
}

}  // namespace

TEST_CASE("an enqueued grid trial gets no parameter whose condition its values turn off",
          "[search][sampler]") {
  const Json enqueued = {{"backbone", "c"}, {"head", "single"}};
  for (const std::string type : {"grid", "random"}) {
    INFO(type);
    CHECK(MakeSampler(ConditionalGrid(type))->Propose(0, enqueued, {}) == enqueued);
  }
  // Missing parameters come from a grid point that agrees with the fixed ones.
  const Json partial = MakeSampler(ConditionalGrid("grid"))->Propose(0, {{"backbone", "c"}}, {});
  CHECK(partial["backbone"] == "c");
  CHECK(partial.contains("head"));
  CHECK(partial.contains("w") == (partial["head"] == "multitask"));
}

TEST_CASE("the grid sampler does not run an enqueued trial's point again", "[search][sampler]") {
  const StudySpec spec = ConditionalGrid("grid");
  auto sampler = MakeSampler(spec);
  // a; b and c with single or multitask: 5 points, one of them enqueued.
  REQUIRE(sampler->Capacity());
  CHECK(*sampler->Capacity() == 5);
  CHECK(PlannedTrials(spec, spec.budget.trials) == 5);
  std::set<std::string> seen = {sampler->Propose(0, spec.enqueue[0], {}).dump()};
  for (int n = 1; n < 5; ++n) seen.insert(sampler->Propose(n, Json::object(), {}).dump());
  CHECK(seen.size() == 5);
  CHECK_THROWS(sampler->Propose(5, Json::object(), {}));
}

TEST_CASE("a study plans the smaller of its trial budget and its grid", "[search][sampler]") {
  StudySpec grid = SpecWithSpace(R"({"lr": {"choice": [0.1, 0.01, 0.001, 0.0001]}})", "grid");
  CHECK(PlannedTrials(grid, 100) == 4);
  CHECK(PlannedTrials(grid, 3) == 3);
  const StudySpec random = SpecWithSpace(R"({"lr": {"choice": [0.1, 0.01]}})");
  CHECK(PlannedTrials(random, 100) == 100);
}
