// Study files that once crashed, hung or confused the loader: each must end in one UserError that
// names the file, the line and the key (exit status 2), within the documented limits.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/study.h"
#include "core/study_document.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
using namespace ensweep;

namespace {

std::string WriteStudy(const std::string& text, const std::string& name = "study.yaml") {
  static int counter = 0;
  const fs::path dir = test::FreshDir("ensweep_study_limits_test", std::to_string(counter++));
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// The UserError message for a study file with `text`; fails the test if loading succeeds.
std::string LoadError(const std::string& text) {
  try {
    LoadStudyFile(WriteStudy(text));
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError for:\n" << text.substr(0, 400));
  return "";
}

// A study of the built-in Branin objective (no data) with `extra` appended.
std::string Branin(const std::string& extra) {
  return "study: limits\ntrainer: {type: branin}\n" + extra;
}

}  // namespace

TEST_CASE("an alias inside its own anchor is a cycle named with its line, not a crash",
          "[core][study][limits]") {
  const std::string message = LoadError(Branin("space: &s\n  x1: *s\n"));
  CHECK_THAT(message, Catch::Contains("study.yaml:3"));
  CHECK_THAT(message, Catch::Contains("'space.x1'"));
  CHECK_THAT(message, Catch::Contains("cycle"));
  // A deeper cycle, through a list.
  const std::string deeper = LoadError(Branin("space: &s\n  x1: {choice: [*s]}\n"));
  CHECK_THAT(deeper, Catch::Contains("'space.x1.choice[0]'"));
  CHECK_THAT(deeper, Catch::Contains("cycle"));
}

TEST_CASE("aliases used as intended still load", "[core][study][limits]") {
  const StudySpec spec =
      LoadStudyFile(WriteStudy(Branin("space:\n  x1: &range {uniform: [-5, 10]}\n  x2: *range\n"
                                      "enqueue:\n  - &first {x1: 0.5, x2: 1}\n  - *first\n")));
  REQUIRE(spec.space.params.size() == 2);
  CHECK(spec.space.params[1].high == 10);
  CHECK(spec.enqueue.size() == 2);
}

TEST_CASE("a billion-laughs file stops at the value limit with its line", "[core][study][limits]") {
  std::string text = Branin("space:\n  x1: {uniform: [0, 1]}\nenqueue:\n  - &a0 {x1: 0.5}\n");
  // Each level doubles: 2^30 values once expanded.
  for (int level = 1; level <= 30; ++level) {
    text += "  - &a" + std::to_string(level) + " [*a" + std::to_string(level - 1) + ", *a" +
            std::to_string(level - 1) + "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string message = LoadError(text);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK_THAT(message, Catch::Contains("study.yaml:"));
  CHECK_THAT(message, Catch::Contains("'enqueue["));
  CHECK_THAT(message, Catch::Contains("more than 100000 values"));
}

TEST_CASE("long scalars are checked without a regex and without overflowing the stack",
          "[core][study][limits]") {
  const std::string long_text(40000, 'a');
  const std::string name = LoadError("study: " + long_text + "\ntrainer: {type: branin}\n");
  CHECK_THAT(name, Catch::Contains("study.yaml:1: 'study': expected a name of 1 to 128"));
  const std::string time = LoadError(Branin("budget: {time: " + std::string(40000, '1') + "h}\n"));
  CHECK_THAT(time, Catch::Contains("study.yaml:3: 'budget.time'"));
  const std::string number = LoadError(Branin("budget: {target: " + long_text + "}\n"));
  CHECK_THAT(number, Catch::Contains("study.yaml:3: 'budget.target': expected a number"));
  // A long constant is a legal value.
  const StudySpec spec = LoadStudyFile(WriteStudy(Branin("space:\n  note: " + long_text + "\n")));
  CHECK(spec.space.Find("note")->constant == long_text);
}

TEST_CASE("deeply nested lists end in an error naming the line", "[core][study][limits]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string flow = LoadError(Branin("space:\n  x: " + deep + "\n"));
  CHECK_THAT(flow, Catch::Contains("study.yaml:4"));
  CHECK_THAT(flow, Catch::Contains("nested deeper than 64 levels"));
  // Just past the limit, in block style: one list per line.
  std::string block = Branin("space:\n  x:\n");
  for (int level = 0; level < 70; ++level) block += std::string(4 + 2 * level, ' ') + "-\n";
  const std::string message = LoadError(block);
  CHECK_THAT(message, Catch::Contains("'space.x[0]"));
  CHECK_THAT(message, Catch::Contains("nested deeper than 64 levels"));
  std::string dashes = Branin("space:\n  x:\n    ");
  for (int level = 0; level < 100000; ++level) dashes += "- ";
  CHECK_THAT(LoadError(dashes + "1\n"), Catch::Contains("study.yaml:"));
}

TEST_CASE("numbers out of range of their type are errors with file, line and key",
          "[core][study][limits]") {
  CHECK_THAT(LoadError(Branin("budget: {target: 1e999}\n")),
             Catch::Contains("study.yaml:3: 'budget.target': 1e999 is out of range of a double"));
  CHECK_THAT(LoadError(Branin("space:\n  x1: {uniform: [1e-400, 1]}\n")),
             Catch::Contains("study.yaml:4: 'space.x1.uniform[0]': 1e-400 is too close to zero"));
  CHECK_THAT(
      LoadError(Branin("budget: {trials: 99999999999999999999}\n")),
      Catch::Contains("study.yaml:3: 'budget.trials': 99999999999999999999 is out of range of a "
                      "64-bit integer"));
  CHECK_THAT(LoadError(Branin("budget: {target: .inf}\n")),
             Catch::Contains("study.yaml:3: 'budget.target': .inf is not a finite number"));
  CHECK_THAT(LoadError(Branin("space:\n  x1: {uniform: [0, -.Inf]}\n")),
             Catch::Contains("study.yaml:4: 'space.x1.uniform[1]': -.Inf is not a finite"));
  CHECK_THAT(LoadError(Branin("space:\n  x1: .nan\n")),
             Catch::Contains("study.yaml:4: 'space.x1': .nan is not a finite number"));
  // Zero and quoted text stay what they were.
  const StudySpec spec = LoadStudyFile(
      WriteStudy(Branin("budget: {target: 0e-400}\nspace:\n  x1: '.inf'\n  x2: \"1e999\"\n")));
  CHECK(*spec.budget.target == 0);
  CHECK(spec.space.Find("x1")->constant == ".inf");
  CHECK(spec.space.Find("x2")->constant == "1e999");
}

TEST_CASE("complex keys are errors with file, line and key", "[core][study][limits]") {
  CHECK_THAT(LoadError(Branin("? [a, b]\n: 1\n")),
             Catch::Contains("study.yaml:3: a key must be a plain name, not a list"));
  CHECK_THAT(LoadError(Branin("space:\n  ? {a: 1}\n  : 1\n")),
             Catch::Contains("study.yaml:4: 'space': a key must be a plain name, not a mapping"));
  CHECK_THAT(LoadError(Branin("space: {? : 1}\n")),
             Catch::Contains("study.yaml:3: 'space': a key must be a plain name"));
  CHECK_THAT(LoadError(Branin("space:\n  ?\n  : 1\n")),
             Catch::Contains("'space': a key must be a plain name"));
}

TEST_CASE("invalid UTF-8, control characters and bad escapes are errors with their line",
          "[core][study][limits]") {
  CHECK_THAT(LoadError(Branin("space:\n  x1: caf\xC3\n")),
             Catch::Contains("study.yaml:4: column 10: not valid UTF-8 (byte 0xC3)"));
  CHECK_THAT(LoadError(Branin("space:\n  x\xFF: 1\n")),
             Catch::Contains("study.yaml:4: column 4: not valid UTF-8 (byte 0xFF)"));
  CHECK_THAT(LoadError("study: a\xED\xA0\x80\n"),  // an encoded surrogate
             Catch::Contains("study.yaml:1: column 9: not valid UTF-8"));
  CHECK_THAT(LoadError(Branin(std::string("space: {x1: 1\0}\n", 16))),
             Catch::Contains("study.yaml:3: column 14: a control character (0x00)"));
  CHECK_THAT(LoadError(Branin("space:\n  x1: \"\\uD800\"\n")),
             Catch::Contains("study.yaml:4: not valid YAML or JSON: invalid unicode"));
  // UTF-8 text, with a byte-order mark, loads.
  const StudySpec spec =
      LoadStudyFile(WriteStudy("\xEF\xBB\xBF" + Branin("space:\n  note: caf\xC3\xA9\n")));
  CHECK(spec.space.Find("note")->constant == "caf\xC3\xA9");
}

TEST_CASE("a study file that cannot be read is an error naming it", "[core][study][limits]") {
  const std::string long_name = "/tmp/" + std::string(5000, 'a') + ".yaml";
  try {
    LoadStudyFile(long_name);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("cannot read the study file"));
  }
  const std::string long_component = "/tmp/" + std::string(300, 'b') + ".yaml";
  CHECK_THROWS_AS(LoadStudyFile(long_component), UserError);
  CHECK_THROWS_WITH(LoadStudyFile("/dev/null/study.yaml"), Catch::Contains("study.yaml"));
  const std::string large = WriteStudy(Branin("# " + std::string(17 << 20, 'x') + "\n"));
  CHECK_THROWS_WITH(LoadStudyFile(large), Catch::Contains("at most 16777216 bytes"));
  CHECK_THROWS_WITH(LoadStudyFile("/dev/zero"), Catch::Contains("not a regular file"));
}

TEST_CASE("paths in a study file are bounded in length", "[core][study][limits]") {
  CHECK_THAT(LoadError(Branin("storage: " + std::string(300, 's') + "/x.sqlite\n")),
             Catch::Contains("study.yaml:3: 'storage': a file or folder name of 300 bytes"));
  CHECK_THAT(LoadError("study: p\ndata: {train: " + std::string(5000, 't') + "}\n"),
             Catch::Contains("study.yaml:2: 'data.train': a path of 5000 bytes"));
}

TEST_CASE("every integer key is checked against its documented range", "[core][study][limits]") {
  struct Case {
    std::string block;  // YAML on line 3
    std::string key;
    std::string range;
  };
  const std::vector<Case> cases = {
      {"data: {train: t, image_size: [7, 64]}", "data.image_size[0]", "from 8 to 4096"},
      {"data: {train: t, image_size: [64, 4097]}", "data.image_size[1]", "from 8 to 4096"},
      {"data: {train: t, split: {folds: 33}}", "data.split.folds", "from 1 to 32"},
      {"data: {train: t, split: {seed: -1}}", "data.split.seed", "from 0 to 9223372036854775807"},
      {"budget: {trials: 0}", "budget.trials", "from 1 to 1000000"},
      {"budget: {trials: 1000001}", "budget.trials", "from 1 to 1000000"},
      {"budget: {epochs: 2147483647}", "budget.epochs", "from 1 to 10000"},
      {"budget: {epochs: 4294967297}", "budget.epochs", "from 1 to 10000"},
      {"sampler: {startup_trials: 1000001}", "sampler.startup_trials", "from 0 to 1000000"},
      {"sampler: {seed: -5}", "sampler.seed", "from 0 to 9223372036854775807"},
      {"sampler: {candidates: 10001}", "sampler.candidates", "from 1 to 10000"},
      {"sampler: {gamma_cap: 0}", "sampler.gamma_cap", "from 1 to 1000000"},
      {"pruner: {type: hyperband, reduction: 4294967296}", "pruner.reduction", "from 2 to 100"},
      {"pruner: {type: asha, reduction: 1}", "pruner.reduction", "from 2 to 100"},
      {"pruner: {min_epochs: 10001}", "pruner.min_epochs", "from 1 to 10000"},
      {"pruner: {startup_trials: -1}", "pruner.startup_trials", "from 0 to 1000000"},
      {"resources: {gpus_per_trial: 4294967297}", "resources.gpus_per_trial", "from 1 to 64"},
      {"resources: {slots_per_trial: 65}", "resources.slots_per_trial", "from 1 to 64"},
      {"resources: {slots_per_trial: 0}", "resources.slots_per_trial", "from 1 to 64"},
      {"resources: {max_retries: 10001}", "resources.max_retries", "from 0 to 10000"},
      {"ensemble: {candidates: 0}", "ensemble.candidates", "from 1 to 10000"},
      {"ensemble: {size: 10001}", "ensemble.size", "from 1 to 10000"},
      {"ensemble: {rounds: 100001}", "ensemble.rounds", "from 1 to 100000"},
      {"ensemble: {init: 0}", "ensemble.init", "from 1 to 10000"},
      {"ensemble: {bags: 1001}", "ensemble.bags", "from 1 to 1000"},
      {"ensemble: {top_n: -1}", "ensemble.top_n", "from 0 to 10000"},
      {"ensemble: {seed: 9223372036854775807}", "", ""},  // the largest seed is fine
      {"space: {n: {int: [0, 9007199254740993]}}", "space.n.int[1]",
       "from -9007199254740992 to 9007199254740992"},
      {"space: {n: {int: [0, 8], step: 0}}", "space.n.step", "from 1 to 9007199254740992"},
  };
  for (const Case& c : cases) {
    INFO(c.block);
    const std::string text = "study: ranges\ntrainer: {type: branin}\n" + c.block + "\n";
    if (c.key.empty()) {
      CHECK_NOTHROW(LoadStudyFile(WriteStudy(text)));
      continue;
    }
    const std::string message = LoadError(text);
    CHECK_THAT(message, Catch::Contains("study.yaml:3: '" + c.key + "': expected an integer " +
                                        c.range + ", got"));
  }
}

TEST_CASE("durations and numbers are checked against their documented ranges",
          "[core][study][limits]") {
  CHECK_THAT(LoadError(Branin("budget: {time: 9000h}\n")),
             Catch::Contains("study.yaml:3: 'budget.time': expected at most 365 days"));
  CHECK_THAT(LoadError(Branin("budget: {time: 1e300}\n")),
             Catch::Contains("study.yaml:3: 'budget.time': expected at most 365 days"));
  CHECK_THAT(LoadError(Branin("budget: {time: 1s1h}\n")),
             Catch::Contains("study.yaml:3: 'budget.time': expected a duration like"));
  CHECK_THAT(LoadError(Branin("trainer2: 1\n")), Catch::Contains("study.yaml:3: 'trainer2'"));
  CHECK_THAT(LoadError("study: d\ntrainer: {type: branin, epoch_time: 25h}\n"),
             Catch::Contains("study.yaml:2: 'trainer.epoch_time': expected at most 24h"));
  CHECK_THAT(LoadError(Branin("resources: {heartbeat_timeout: 2d}\n")),
             Catch::Contains("study.yaml:3: 'resources.heartbeat_timeout'"));
  CHECK_THAT(
      LoadError(Branin("resources: {heartbeat_timeout: 25h}\n")),
      Catch::Contains("study.yaml:3: 'resources.heartbeat_timeout': expected from 1s to 24h"));
  CHECK_THAT(LoadError(Branin("space:\n  x1: {uniform: [-1.0e308, 1.0e308]}\n")),
             Catch::Contains("study.yaml:4: 'space.x1.uniform': high - low is out of range"));
  CHECK(ParseDurationSeconds(Json("1h 30m 15.5s"), "t") == Approx(5415.5));
  CHECK(ParseDurationSeconds(Json(" 2m "), "t") == Approx(120));
  CHECK_THROWS_AS(ParseDurationSeconds(Json("h"), "t"), UserError);
  CHECK_THROWS_AS(ParseDurationSeconds(Json("1.h"), "t"), UserError);
  CHECK_THROWS_AS(ParseDurationSeconds(Json("1m1m"), "t"), UserError);
}

TEST_CASE("a hyperband pruner with a huge reduction is refused at load, not looped on",
          "[core][study][limits]") {
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(LoadError(Branin("pruner: {type: hyperband, reduction: 4294967296}\n")),
             Catch::Contains("study.yaml:3: 'pruner.reduction': expected an integer from 2 to 100, "
                             "got 4294967296"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("an enqueue list longer than budget.trials is refused with its line",
          "[core][study][limits]") {
  const std::string entries =
      "space:\n  x1: {uniform: [-5, 10]}\n  x2: {uniform: [0, 15]}\nenqueue:\n" +
      std::string(
          "  - {x1: 0, x2: 1}\n  - {x1: 1, x2: 1}\n  - {x1: 2, x2: 1}\n"
          "  - {x1: 3, x2: 1}\n  - {x1: 4, x2: 1}\n");
  const std::string message = LoadError(Branin("budget: {trials: 2}\n" + entries));
  CHECK_THAT(message,
             Catch::Contains("study.yaml:7: 'enqueue': 5 entries but budget.trials is 2;"));
  CHECK_THAT(message, Catch::Contains("at least 5"));
  // The default budget (16 trials) counts too.
  std::string many = Branin("space:\n  x1: {uniform: [-5, 10]}\nenqueue:\n");
  for (int i = 0; i < 17; ++i) many += "  - {x1: " + std::to_string(i % 10) + "}\n";
  CHECK_THAT(LoadError(many), Catch::Contains("17 entries but budget.trials is 16 (the default)"));
  // As many entries as trials is fine; a stored spec is not re-checked (--trials may have
  // extended the study past its file's budget).
  const StudySpec spec = LoadStudyFile(WriteStudy(Branin("budget: {trials: 5}\n" + entries)));
  CHECK(spec.enqueue.size() == 5);
  StudySpec shrunk = spec;
  shrunk.budget.trials = 2;
  CHECK(StudyFromJson(shrunk.ToJson()).enqueue.size() == 5);
}

TEST_CASE("study text in memory loads with its origin in messages", "[core][study][limits]") {
  const StudySpec spec = LoadStudyText(Branin("space:\n  x1: {uniform: [0, 1]}\n"), "inline", "/b");
  CHECK(spec.name == "limits");
  CHECK(spec.storage == "/b/ensweep.sqlite");
  CHECK(spec.source_path.empty());
  CHECK_THROWS_WITH(LoadStudyText(Branin("budget: {epochs: 0}\n"), "inline", "/b"),
                    Catch::StartsWith("inline:3: 'budget.epochs'"));
  CHECK_THROWS_WITH(LoadStudyText("", "inline", "/b"),
                    Catch::StartsWith("inline:1: expected a mapping"));
  CHECK_THROWS_WITH(LoadStudyText("[1, 2]", "inline", "/b"),
                    Catch::StartsWith("inline:1: expected a mapping"));
}

TEST_CASE("every study in studies/ still loads", "[core][study][limits]") {
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ENSWEEP_SOURCE_DIR) / "studies")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    const StudySpec spec = LoadStudyFile(entry.path().string());
    CHECK(!spec.name.empty());
    CHECK(static_cast<int64_t>(spec.enqueue.size()) <= spec.budget.trials);
    ++loaded;
  }
  CHECK(loaded >= 3);
}

TEST_CASE("every seed of the study fuzz corpus loads or fails with a UserError",
          "[core][study][limits]") {
  int seeds = 0;
  for (const auto& entry :
       fs::directory_iterator(fs::path(ENSWEEP_SOURCE_DIR) / "tests/fuzz/corpus/study_fuzz")) {
    INFO(entry.path().string());
    try {
      const StudySpec spec = LoadStudyFile(entry.path().string());
      CHECK(StudyFromJson(spec.ToJson()).ToJson() == spec.ToJson());
    } catch (const UserError& e) {
      CHECK_THAT(e.what(), Catch::Contains(entry.path().filename().string() + ":"));
    }
    ++seeds;
  }
  CHECK(seeds >= 10);
}
