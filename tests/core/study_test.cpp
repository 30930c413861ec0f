#include "core/study.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

// Writes `text` as a study file in a fresh temporary folder and returns its path.
std::string WriteStudy(const std::string& text, const std::string& name = "study.yaml") {
  static int counter = 0;
  const fs::path dir = test::FreshDir("ensweep_study_test", std::to_string(counter++));
  const fs::path path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

const char* kMinimal = R"(study: demo
data: {train: data/train}
space:
  lr: {log_uniform: [1.0e-4, 1.0e-1]}
)";

// The UserError message for a study with `text`; fails the test if loading succeeds.
std::string LoadError(const std::string& text) {
  const std::string path = WriteStudy(text);
  try {
    LoadStudyFile(path);
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError for:\n" << text);
  return "";
}

}  // namespace

TEST_CASE("a minimal study loads with documented defaults and resolved paths", "[core][study]") {
  const std::string path = WriteStudy(kMinimal);
  const StudySpec spec = LoadStudyFile(path);
  const fs::path dir = fs::path(path).parent_path();
  CHECK(spec.name == "demo");
  CHECK(spec.storage == (dir / "ensweep.sqlite").string());
  CHECK(spec.data.train == (dir / "data/train").string());
  CHECK(spec.data.eval.empty());
  CHECK(spec.data.format == DataFormat::kMask);
  CHECK(spec.data.split.by == SplitBy::kPerson);
  CHECK(spec.data.split.val_fraction == Approx(0.2));
  CHECK(spec.objective.metric == "val_macro_f1");
  CHECK(spec.objective.maximize);
  CHECK(spec.sampler.type == SamplerType::kRandom);
  REQUIRE(spec.space.params.size() == 1);
  CHECK(spec.space.params[0].kind == ParamKind::kLogUniform);
  CHECK(spec.space.params[0].low == Approx(1e-4));
}

TEST_CASE("TPE's candidate count defaults by mode and keeps what the file gives", "[core][study]") {
  auto sampler = [](const std::string& block) {
    return LoadStudyFile(WriteStudy("study: s\ndata: {train: t}\nsampler: " + block +
                                    "\nspace:\n  lr: {uniform: [0.001, 1]}\n"))
        .sampler;
  };
  CHECK(sampler("{type: tpe}").candidates == 4);
  CHECK(sampler("{type: tpe}").gamma == Approx(0.15));
  CHECK(sampler("{type: tpe, multivariate: true}").candidates ==
        SamplerSpec::kMultivariateCandidates);
  CHECK(sampler("{type: tpe, multivariate: true, candidates: 7}").candidates == 7);
  CHECK(sampler("{type: tpe, candidates: 30}").candidates == 30);
  // The stored study keeps the count it was given or defaulted to.
  const StudySpec multivariate = LoadStudyFile(WriteStudy(
      "study: s\ndata: {train: t}\nsampler: {type: tpe, multivariate: true}\nspace:\n  lr: 0.1\n"));
  CHECK(StudyFromJson(multivariate.ToJson()).sampler.candidates ==
        SamplerSpec::kMultivariateCandidates);
}

TEST_CASE("every parameter kind of the design document parses", "[core][study]") {
  const StudySpec spec = LoadStudyFile(WriteStudy(R"(study: kinds
data: {train: t, eval: e, image_size: [48, 64], split: {by: person, val_fraction: 0.25, folds: 1, seed: 3}}
objective: {metric: val_accuracy, direction: maximize}
budget: {trials: 8, epochs: 2, time: 1h30m}
sampler: {type: grid, seed: 7}
enqueue:
  - {backbone: resnet18, lr: 0.01}
space:
  backbone: {choice: [custom_cnn, resnet18]}
  momentum: 0.9
  lr: {choice: [0.01, 0.1]}
  batch_size: {int: [16, 64], step: 16}
  head: {choice: [single, multitask]}
  age_loss_weight: {choice: [1.0, 2.0], when: {head: multitask}}
)"));
  CHECK(spec.budget.time_s == Approx(5400));
  CHECK(spec.data.width == 48);
  CHECK(spec.data.height == 64);
  CHECK(spec.enqueue.size() == 1);
  const ParamSpec* momentum = spec.space.Find("momentum");
  REQUIRE(momentum != nullptr);
  CHECK(momentum->kind == ParamKind::kConstant);
  CHECK(momentum->constant == 0.9);
  const ParamSpec* batch = spec.space.Find("batch_size");
  REQUIRE(batch != nullptr);
  CHECK(batch->kind == ParamKind::kInt);
  CHECK(batch->step == 16);
  const ParamSpec* age = spec.space.Find("age_loss_weight");
  REQUIRE(age != nullptr);
  REQUIRE(age->when.size() == 1);
  CHECK(age->when[0].param == "head");
}

TEST_CASE("a conditional parameter is ordered after the parameter it depends on", "[core][study]") {
  const StudySpec spec = LoadStudyFile(WriteStudy(R"(study: order
data: {train: t}
space:
  swa_lr: {log_uniform: [1.0e-4, 1.0e-2], when: {swa: true}}
  swa: {choice: [false, true]}
)"));
  REQUIRE(spec.space.params.size() == 2);
  CHECK(spec.space.params[0].name == "swa");
  CHECK(spec.space.params[1].name == "swa_lr");
}

TEST_CASE("JSON study files are accepted", "[core][study]") {
  const StudySpec spec = LoadStudyFile(WriteStudy(
      R"({"study": "js", "data": {"train": "t"}, "space": {"lr": {"uniform": [0.1, 0.2]}}})",
      "s.json"));
  CHECK(spec.name == "js");
  CHECK(spec.space.Find("lr")->kind == ParamKind::kUniform);
}

TEST_CASE("an unknown key is an error that names the file, line and key path", "[core][study]") {
  const std::string message = LoadError("study: x\ndata: {train: t}\nbudjet: {trials: 3}\n");
  CHECK_THAT(message, Catch::Contains("study.yaml:3"));
  CHECK_THAT(message, Catch::Contains("'budjet'"));
  CHECK_THAT(message, Catch::Contains("unknown key"));
}

TEST_CASE("a nested unknown key names its full path", "[core][study]") {
  const std::string message =
      LoadError("study: x\ndata:\n  train: t\n  split: {by: person, fold: 2}\n");
  CHECK_THAT(message, Catch::Contains("'data.split.fold'"));
  CHECK_THAT(message, Catch::Contains(":4"));
}

TEST_CASE("a wrong type is an error naming what was expected", "[core][study]") {
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nbudget: {trials: many}\n"),
             Catch::Contains("'budget.trials': expected an integer"));
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace: {lr: {uniform: [a, 1]}}\n"),
             Catch::Contains("'space.lr.uniform[0]': expected a number"));
  CHECK_THAT(LoadError("study: x\ndata: {train: t, image_size: 96}\n"),
             Catch::Contains("'data.image_size': expected [width, height]"));
}

TEST_CASE("an empty choice list is an error", "[core][study]") {
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace: {backbone: {choice: []}}\n"),
             Catch::Contains("'space.backbone.choice': expected a non-empty list"));
}

TEST_CASE("low greater than high is an error", "[core][study]") {
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace: {flip_p: {uniform: [0.8, 0.1]}}\n"),
             Catch::Contains("low must be <= high"));
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace: {n: {int: [8, 2]}}\n"),
             Catch::Contains("low must be <= high"));
}

TEST_CASE("log_uniform with a non-positive low is an error", "[core][study]") {
  const std::string message =
      LoadError("study: x\ndata: {train: t}\nspace: {lr: {log_uniform: [0, 0.1]}}\n");
  CHECK_THAT(message, Catch::Contains("'space.lr.log_uniform'"));
  CHECK_THAT(message, Catch::Contains("low > 0"));
}

TEST_CASE("a when that names an unknown parameter is an error", "[core][study]") {
  const std::string message = LoadError(
      "study: x\ndata: {train: t}\nspace:\n  age_loss_weight: {uniform: [0.5, 3], when: {hed: "
      "multitask}}\n");
  CHECK_THAT(message, Catch::Contains("'space.age_loss_weight.when.hed'"));
  CHECK_THAT(message, Catch::Contains("unknown parameter 'hed'"));
}

TEST_CASE("a when with an impossible value and cyclic conditions are errors", "[core][study]") {
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace:\n  head: {choice: [single]}\n"
                       "  w: {uniform: [0, 1], when: {head: multitask}}\n"),
             Catch::Contains("not a possible value of 'head'"));
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace:\n  a: {choice: [1], when: {b: 1}}\n"
                       "  b: {choice: [1], when: {a: 1}}\n"),
             Catch::Contains("cycle"));
}

TEST_CASE("a when on a continuous parameter is an error", "[core][study]") {
  const std::string message = LoadError(
      "study: x\ndata: {train: t}\nspace:\n  lr: {uniform: [0, 1]}\n"
      "  w: {choice: [1, 2], when: {lr: 0.5}}\n");
  CHECK_THAT(message, Catch::Contains(":5: 'space.w.when.lr'"));
  CHECK_THAT(message, Catch::Contains("needs a choice, int or constant parameter"));
}

TEST_CASE("a key given twice is an error naming both lines", "[core][study]") {
  const std::string message = LoadError("study: x\ndata: {train: t}\nstudy: y\n");
  CHECK_THAT(message, Catch::Contains(":3: 'study': given twice (first on line 1)"));
  CHECK_THAT(LoadError("study: x\ndata: {train: t, train: u}\n"),
             Catch::Contains("'data.train': given twice"));
}

TEST_CASE("a folder given as the study file is named as such", "[core][study]") {
  const fs::path dir = fs::path(WriteStudy(kMinimal)).parent_path();
  try {
    LoadStudyFile(dir.string());
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("is a folder; expected a study file"));
  }
}

TEST_CASE("built-in objectives default to the objective they report", "[core][study]") {
  const StudySpec branin =
      LoadStudyFile(WriteStudy("study: b\ntrainer: {type: branin}\nspace: {x1: 0, x2: 0}\n"));
  CHECK(branin.objective.metric == "value");
  CHECK_FALSE(branin.objective.maximize);
  const StudySpec curve = LoadStudyFile(WriteStudy("study: c\ntrainer: {type: curve}\n"));
  CHECK(curve.objective.metric == "val_accuracy");
  CHECK(curve.objective.maximize);
  // The file's objective still wins.
  const StudySpec given = LoadStudyFile(WriteStudy(
      "study: h\ntrainer: {type: hartmann6}\nobjective: {metric: v, direction: maximize}\n"));
  CHECK(given.objective.metric == "v");
  CHECK(given.objective.maximize);
}

TEST_CASE("missing required keys and bad YAML are errors", "[core][study]") {
  CHECK_THAT(LoadError("data: {train: t}\n"), Catch::Contains("'study': missing"));
  CHECK_THAT(LoadError("study: x\n"), Catch::Contains("'data': missing"));
  CHECK_THAT(LoadError("study: x\ndata: {train: [unclosed\n"), Catch::Contains("not valid YAML"));
  CHECK_THROWS_AS(LoadStudyFile("/nonexistent/study.yaml"), UserError);
}

TEST_CASE("enqueued trials must name parameters of the space with values in their domain",
          "[core][study]") {
  CHECK_THAT(LoadError("study: x\ndata: {train: t}\nspace: {lr: {uniform: [0.1, 0.2]}}\nenqueue: "
                       "[{lrr: 0.1}]\n"),
             Catch::Contains("'enqueue[0].lrr': not a parameter of space"));
  CHECK_THAT(
      LoadError(
          "study: x\ndata: {train: t}\nspace: {lr: {uniform: [0.1, 0.2]}}\nenqueue: [{lr: 0.5}]\n"),
      Catch::Contains("outside the parameter's uniform domain"));
}

TEST_CASE("a normalised spec survives a round trip through JSON", "[core][study]") {
  const StudySpec spec = LoadStudyFile(WriteStudy(R"(study: rt
data: {train: t, eval: e}
budget: {trials: 5, epochs: 2, time: 90s}
space:
  backbone: {choice: [custom_cnn, resnet18]}
  lr: {log_uniform: [1.0e-3, 1.0e-1]}
  batch_size: {int: [8, 64], step: 8, log: true}
  flip_p: {uniform: [0, 1], when: {backbone: resnet18}}
)"));
  const StudySpec copy = StudyFromJson(spec.ToJson());
  CHECK(copy.ToJson() == spec.ToJson());
  CHECK(copy.budget.time_s == Approx(90));
}

TEST_CASE("durations accept h, m and s", "[core][study]") {
  CHECK(ParseDurationSeconds("2h", "t") == Approx(7200));
  CHECK(ParseDurationSeconds("1h30m", "t") == Approx(5400));
  CHECK(ParseDurationSeconds("45s", "t") == Approx(45));
  CHECK(ParseDurationSeconds(12, "t") == Approx(12));
  CHECK_THROWS_AS(ParseDurationSeconds("soon", "t"), UserError);
}

TEST_CASE("objective.scope defaults to best, reads last, and rejects anything else",
          "[core][study]") {
  CHECK(LoadStudyFile(WriteStudy(kMinimal)).objective.best_epoch);
  const StudySpec last = LoadStudyFile(
      WriteStudy(std::string(kMinimal) + "objective: {metric: val_loss, direction: minimize, "
                                         "scope: last}\n"));
  CHECK_FALSE(last.objective.best_epoch);
  CHECK_FALSE(StudyFromJson(last.ToJson()).objective.best_epoch);  // as workers receive it
  const std::string message =
      LoadError(std::string(kMinimal) + "objective: {metric: val_loss, scope: first}\n");
  CHECK_THAT(message, Catch::Contains("study.yaml:5"));
  CHECK_THAT(message, Catch::Contains("'objective.scope'"));
  CHECK_THAT(message, Catch::Contains("best") && Catch::Contains("last"));
}

TEST_CASE("checkpoints.keep takes a number of trials, all or none", "[core][study]") {
  CHECK(LoadStudyFile(WriteStudy(kMinimal)).checkpoints.keep == CheckpointSpec::kAll);
  const auto keep = [](const std::string& value) {
    const StudySpec spec =
        LoadStudyFile(WriteStudy(std::string(kMinimal) + "checkpoints: {keep: " + value + "}\n"));
    CHECK(StudyFromJson(spec.ToJson()).checkpoints.keep == spec.checkpoints.keep);
    return spec.checkpoints.keep;
  };
  CHECK(keep("10") == 10);
  CHECK(keep("0") == 0);
  CHECK(keep("none") == 0);
  CHECK(keep("all") == CheckpointSpec::kAll);
  CHECK_THAT(LoadError(std::string(kMinimal) + "checkpoints: {keep: some}\n"),
             Catch::Contains("'checkpoints.keep'") && Catch::Contains("all"));
  CHECK_THAT(LoadError(std::string(kMinimal) + "checkpoints: {keep: -2}\n"),
             Catch::Contains("'checkpoints.keep'"));
  CHECK_THAT(LoadError(std::string(kMinimal) + "checkpoints: {keep: 1.5}\n"),
             Catch::Contains("'checkpoints.keep'"));
  CHECK_THAT(LoadError(std::string(kMinimal) + "checkpoints: {kept: 3}\n"),
             Catch::Contains("'checkpoints.kept'"));
}
