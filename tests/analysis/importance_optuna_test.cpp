// Conformance of analysis/importance.h with Optuna's fANOVA: tests/analysis/optuna_importance.py,
// run by the system Python, gives Optuna's numbers; without Optuna (Debian: python3-optuna, with
// python3-sklearn; scripts/setup.sh --test installs them) the tests say so and check nothing.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>

#include "analysis/importance.h"
#include "core/rng.h"
#include "core/store.h"
#include "tests/scratch_dir.h"

using namespace ensweep;
namespace fs = std::filesystem;

namespace {

struct Output {
  int status = -1;
  std::string text;
};

Output Run(const std::string& command) {
  Output out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.text.append(buffer, n);
  const int raw = pclose(pipe);
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// Optuna's answer for `input` (optuna_importance.py MODE); nullopt, with the reason in why_not,
// when Optuna (or the system Python) is missing.
std::optional<Json> Optuna(const std::string& mode, const Json& input, std::string* why_not) {
  static int calls = 0;
  const fs::path file = test::ScratchPath("ensweep_importance", std::to_string(calls++) + ".json");
  std::ofstream(file) << input.dump();
  const Output out =
      Run("/usr/bin/python3 " ENSWEEP_SOURCE_DIR "/tests/analysis/optuna_importance.py " + mode +
          " " + file.string());
  // 3: the script could not import Optuna; 127: no /usr/bin/python3.
  if (out.status == 3 || out.status == 127) {
    *why_not = out.text;
    return std::nullopt;
  }
  INFO(out.text);
  REQUIRE(out.status == 0);
  return Json::parse(out.text.substr(out.text.rfind('\n', out.text.size() - 2) + 1));
}

void Skip(const std::string& why_not) {
  WARN(
      "SKIPPED: Optuna's fANOVA is not available to /usr/bin/python3 (Debian: python3-optuna "
      "and python3-sklearn, installed by scripts/setup.sh --test): "
      << why_not);
}

StudySpec SpecWith(const std::string& space_json) {
  const Json doc = {{"study", "conformance"},
                    {"storage", "/unused/s.sqlite"},
                    {"artifacts", "/unused/artifacts"},
                    {"data", {{"train", "/unused"}}},
                    {"space", Json::parse(space_json)}};
  return ParseStudy(doc, "test", "/");
}

std::vector<std::string> Ranking(const std::vector<std::pair<std::string, double>>& list) {
  auto sorted = list;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> names;
  for (const auto& [name, value] : sorted) names.push_back(name);
  return names;
}

}  // namespace

TEST_CASE("each tree's variance decomposition equals Optuna's _FanovaTree on the same tree",
          "[analysis][importance][optuna]") {
  // Numeric, log-scale, integer, categorical and conditional parameters.
  const StudySpec spec = SpecWith(R"({"x": {"uniform": [-1, 1]},
                                      "lr": {"log_uniform": [1e-5, 1e-1]},
                                      "depth": {"int": [1, 9]},
                                      "act": {"choice": ["relu", "gelu", "tanh"]},
                                      "drop": {"uniform": [0, 0.5], "when": {"act": "gelu"}}})");
  Rng rng(21);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 150; ++i) {
    TrialRecord t;
    t.number = i;
    t.state = TrialState::kComplete;
    const char* acts[] = {"relu", "gelu", "tanh"};
    t.params = {{"x", rng.Uniform(-1, 1)},
                {"lr", std::exp(rng.Uniform(std::log(1e-5), std::log(1e-1)))},
                {"depth", 1 + static_cast<int>(rng.Below(9))},
                {"act", acts[rng.Below(3)]}};
    double v = t.params["x"].get<double>() * t.params["depth"].get<int>() +
               std::log(t.params["lr"].get<double>()) + 0.3 * rng.Normal();
    if (t.params["act"] == "gelu") {
      t.params["drop"] = rng.Uniform(0, 0.5);
      v += 4 * t.params["drop"].get<double>();
    }
    t.value = v;
    trials.push_back(std::move(t));
  }
  Json trees = Json::array();
  for (uint64_t seed = 0; seed < 3; ++seed) {
    trees.push_back(FirstImportanceTree(spec, trials, seed));
    REQUIRE(trees.back().is_object());
  }
  std::string why_not;
  const auto reference = Optuna("tree", trees, &why_not);
  if (!reference) return Skip(why_not);
  REQUIRE(reference->size() == trees.size());
  for (size_t t = 0; t < trees.size(); ++t) {
    const Json& ours = trees[t]["fractions"];
    REQUIRE((*reference)[t].size() == ours.size());
    for (size_t p = 0; p < ours.size(); ++p) {
      INFO("seed " << t << ", " << trees[t]["params"][p]["param"]);
      CHECK(ours[p].get<double>() == Approx((*reference)[t][p].get<double>()).margin(1e-9));
    }
  }
}

namespace {

// Runs the study file `yaml` (a built-in objective) to the end with `ensweep run`, then compares
// ComputeImportance on its trials with Optuna's get_param_importances on the same trials; returns
// both lists (ours, Optuna's), or nothing when Optuna is missing.
std::optional<std::pair<std::vector<std::pair<std::string, double>>,
                        std::vector<std::pair<std::string, double>>>>
CompareOnSweep(const std::string& name, const std::string& yaml) {
  const fs::path dir = test::FreshDir("ensweep_importance", name);
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << yaml;
  const Output run =
      Run(std::string(ENSWEEP_BINARY) + " run " + study.string() + " --workers 2 -q");
  INFO(run.text);
  REQUIRE(run.status == 0);
  const StudySpec spec = LoadStudyFile(study.string());
  auto store = Store::OpenReadOnly(spec.storage);
  const auto record = store->FindStudy(spec.name);
  REQUIRE(record);
  const std::vector<TrialRecord> trials = store->Trials(record->id);
  const ImportanceResult ours = ComputeImportance(spec, trials, 0);

  Json input = {{"space", spec.ToJson()["space"]},
                {"direction", spec.objective.maximize ? "maximize" : "minimize"},
                {"seed", 0},
                {"trials", Json::array()}};
  for (const TrialRecord& t : trials)
    if (t.state == TrialState::kComplete && t.value)
      input["trials"].push_back({{"params", t.params}, {"value", *t.value}});
  REQUIRE(static_cast<int64_t>(input["trials"].size()) == ours.trials_used);
  std::string why_not;
  const auto reference = Optuna("study", input, &why_not);
  if (!reference) {
    Skip(why_not);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, double>> a, b;
  for (const auto& p : ours.importances) a.emplace_back(p.param, p.importance);
  for (const auto& [param, value] : reference->items()) b.emplace_back(param, value.get<double>());
  return std::make_pair(a, b);
}

}  // namespace

TEST_CASE("on a Branin sweep the importances rank the parameters as Optuna's fANOVA does",
          "[analysis][importance][optuna][e2e]") {
  // x2 dominates Branin over its domain; `noise` is read by nothing.
  const auto both = CompareOnSweep("branin",
                                   "study: branin-importance\ntrainer: {type: branin}\n"
                                   "objective: {metric: value, direction: minimize}\n"
                                   "budget: {trials: 200, epochs: 1}\n"
                                   "sampler: {type: random, seed: 5}\n"
                                   "space:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15]}\n"
                                   "  noise: {uniform: [0, 1]}\n");
  if (!both) return;
  const auto& [ours, optuna] = *both;
  INFO("ours: " << Json(ours).dump() << "\nOptuna: " << Json(optuna).dump());
  REQUIRE(ours.size() == 3);
  REQUIRE(optuna.size() == 3);
  CHECK(Ranking(ours) == Ranking(optuna));
  CHECK(Ranking(ours)[0] == "x2");
  for (const auto& list : {ours, optuna})
    for (const auto& [name, value] : list)
      if (name == "noise") CHECK(value < 0.05);
}

TEST_CASE(
    "on a Hartmann6 sweep the importances rank the leading parameters as Optuna's fANOVA does",
    "[analysis][importance][optuna][e2e]") {
  const auto both = CompareOnSweep("hartmann6",
                                   "study: hartmann6-importance\ntrainer: {type: hartmann6}\n"
                                   "objective: {metric: value, direction: minimize}\n"
                                   "budget: {trials: 300, epochs: 1}\n"
                                   "sampler: {type: random, seed: 6}\n"
                                   "space:\n  x1: {uniform: [0, 1]}\n  x2: {uniform: [0, 1]}\n"
                                   "  x3: {uniform: [0, 1]}\n  x4: {uniform: [0, 1]}\n"
                                   "  x5: {uniform: [0, 1]}\n  x6: {uniform: [0, 1]}\n");
  if (!both) return;
  const auto& [ours, optuna] = *both;
  INFO("ours: " << Json(ours).dump() << "\nOptuna: " << Json(optuna).dump());
  REQUIRE(ours.size() == 6);
  REQUIRE(optuna.size() == 6);
  const auto a = Ranking(ours), b = Ranking(optuna);
  CHECK(a[0] == b[0]);
  CHECK(std::set<std::string>(a.begin(), a.begin() + 4) ==
        std::set<std::string>(b.begin(), b.begin() + 4));
}
