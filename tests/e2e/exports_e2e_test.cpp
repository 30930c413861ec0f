// End to end: what `ensweep top`, `ensweep history` and `ensweep importance` print for programs
// (CSV, JSON) and for the eye (tables), on sweeps of the built-in objectives.
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "apps/leaderboard.h"
#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

std::string Study(const fs::path& dir) { return (dir / "study.yaml").string(); }

// Writes `yaml` as study.yaml in a fresh folder `name`, runs it to the end and returns the folder.
fs::path RunStudy(const std::string& name, const std::string& yaml) {
  const fs::path dir = FreshDir(name);
  std::ofstream(Study(dir)) << yaml;
  const auto run = RunCommand(Ensweep() + " run " + Study(dir) + " -q");
  INFO(run.output);
  REQUIRE(run.status == 0);
  return dir;
}

// A curve study (two metrics per epoch: val_acc and noiseless) with a log-scale, a categorical,
// an integer and a conditional parameter, run to the end.
fs::path CurveStudy() {
  return RunStudy("exports_curve",
                  "study: curve-exports\nstorage: runs/store.sqlite\ntrainer: {type: curve}\n"
                  "objective: {metric: val_acc, direction: maximize}\n"
                  "budget: {trials: 6, epochs: 3}\n"
                  "sampler: {type: random, seed: 4}\n"
                  "space:\n"
                  "  lr: {log_uniform: [1.0e-4, 1.0e-1]}\n"
                  "  act: {choice: [relu, gelu]}\n"
                  "  depth: {int: [1, 8]}\n"
                  "  drop: {uniform: [0, 0.5], when: {act: gelu}}\n");
}

// A Branin study whose trials fail when they draw x2 = "oops" (the objective needs a number); the
// enqueued first trial does.
fs::path FailingStudy() {
  return RunStudy("exports_failing",
                  "study: failing\nstorage: runs/store.sqlite\ntrainer: {type: branin}\n"
                  "objective: {metric: value, direction: minimize}\n"
                  "budget: {trials: 4, epochs: 2}\n"
                  "sampler: {type: random, seed: 1}\n"
                  "enqueue:\n  - {x1: 1.5, x2: oops}\n"
                  "space:\n  x1: {uniform: [-5, 10]}\n"
                  "  x2: {choice: [1.0, 2.5, oops]}\n");
}

std::map<int64_t, TrialRecord> ByNumber(const std::vector<TrialRecord>& trials) {
  std::map<int64_t, TrialRecord> out;
  for (const auto& t : trials) out[t.number] = t;
  return out;
}

}  // namespace

TEST_CASE("top's CSV and JSON carry every final metric and the objective at full precision",
          "[e2e][exports]") {
  const fs::path dir = CurveStudy();
  const StoredStudy stored = ReadStudy(dir, "curve-exports");
  const auto trials = ByNumber(stored.trials);
  REQUIRE(trials.size() == 6);

  const auto csv = RunCommand(Ensweep() + " top " + Study(dir) + " -k 0 -f csv");
  INFO(csv.output);
  REQUIRE(csv.status == 0);
  const CsvTable table = ParseCsv(csv.output, "top");
  CHECK(table.header == std::vector<std::string>{"rank", "trial", "state", "val_acc", "epochs",
                                                 "duration_s", "worker", "act", "depth", "drop",
                                                 "lr", "best_epoch", "noiseless", "metric.val_acc",
                                                 "error"});
  REQUIRE(table.rows.size() == 6);
  for (const auto& row : table.rows) {
    const TrialRecord& t = trials.at(std::stoll(row[table.Column("trial")]));
    REQUIRE(t.value);
    CHECK(std::stod(row[table.Column("val_acc")]) == *t.value);  // exact: it reads back the same
    CHECK(std::stod(row[table.Column("noiseless")]) == t.metrics["noiseless"].get<double>());
    CHECK(std::stod(row[table.Column("best_epoch")]) == t.metrics["best_epoch"].get<double>());
    CHECK(std::stod(row[table.Column("metric.val_acc")]) == t.metrics["val_acc"].get<double>());
    CHECK(std::stod(row[table.Column("lr")]) == t.params["lr"].get<double>());
    CHECK(row[table.Column("drop")].empty() == !t.params.contains("drop"));
    CHECK(row[table.Column("error")].empty());
  }

  const auto json = RunCommand(Ensweep() + " top " + Study(dir) + " -k 0 -f json");
  REQUIRE(json.status == 0);
  const auto list = nlohmann::json::parse(json.output);
  REQUIRE(list.size() == 6);
  for (const auto& entry : list) {
    const TrialRecord& t = trials.at(entry["trial"].get<int64_t>());
    CHECK(entry["value"].get<double>() == *t.value);
    CHECK(entry["metrics"] == t.metrics);
    CHECK(entry["metrics"].contains("noiseless"));
    CHECK(entry["error"] == "");
  }
}

TEST_CASE("top's table and show name the epoch each trial's value and model are from",
          "[e2e][exports]") {
  const fs::path dir = CurveStudy();
  const auto trials = ByNumber(ReadStudy(dir, "curve-exports").trials);

  const auto table = RunCommand(Ensweep() + " top " + Study(dir) + " -k 0");
  INFO(table.output);
  REQUIRE(table.status == 0);
  const auto lines = Lines(table.output);
  REQUIRE(lines.size() == 2 + trials.size());  // the study line, the header
  CHECK_THAT(lines[1], Catch::Contains("  epochs  best_epoch  time_s  "));
  for (size_t i = 2; i < lines.size(); ++i) {
    std::istringstream row(lines[i]);  // rank trial state value epochs best_epoch ...
    std::string rank, state, value, epochs;
    int64_t number = 0, best = 0;
    row >> rank >> number >> state >> value >> epochs >> best;
    CHECK(best == trials.at(number).metrics["best_epoch"].get<int64_t>());
  }

  const TrialRecord& first = trials.at(0);
  const auto show = RunCommand(Ensweep() + " show " + Study(dir) + " 0");
  REQUIRE(show.status == 0);
  CHECK_THAT(show.output, Catch::Contains("(best epoch " +
                                          std::to_string(first.metrics["best_epoch"].get<int>()) +
                                          " of " + std::to_string(first.epochs_done) + ")"));
}

TEST_CASE("top lists failed trials with their error: whole in CSV and JSON, shortened in a table",
          "[e2e][exports]") {
  const fs::path dir = FailingStudy();
  const StoredStudy stored = ReadStudy(dir, "failing");
  int failed = 0;
  for (const auto& t : stored.trials) failed += t.state == TrialState::kFailed;
  REQUIRE(failed >= 1);  // the enqueued trial
  const std::string message = "the branin objective needs a numeric parameter 'x2'";

  const auto table = RunCommand(Ensweep() + " top " + Study(dir) + " --all");
  INFO(table.output);
  REQUIRE(table.status == 0);
  const auto lines = Lines(table.output);
  REQUIRE(lines.size() == stored.trials.size() + 2);  // the study line, the header
  CHECK(lines[1].substr(lines[1].size() - 5) == "error");
  int shown = 0;
  for (const auto& line : lines)
    shown += line.find("FAILED") != std::string::npos && line.find(message) != std::string::npos;
  CHECK(shown == failed);
  // Without --all: no error column.
  const auto plain = RunCommand(Ensweep() + " top " + Study(dir));
  CHECK_THAT(plain.output, !Catch::Contains("error"));

  const auto csv = RunCommand(Ensweep() + " top " + Study(dir) + " --all -f csv");
  REQUIRE(csv.status == 0);
  const CsvTable rows = ParseCsv(csv.output, "top");
  REQUIRE(rows.rows.size() == stored.trials.size());
  for (const auto& row : rows.rows) {
    const bool is_failed = row[rows.Column("state")] == "FAILED";
    CHECK(row[rows.Column("error")] == (is_failed ? message : ""));
  }

  const auto json = RunCommand(Ensweep() + " top " + Study(dir) + " --all -f json");
  REQUIRE(json.status == 0);
  for (const auto& entry : nlohmann::json::parse(json.output))
    CHECK(entry["error"] == (entry["state"] == "FAILED" ? message : ""));
}

TEST_CASE("a table's error is the first line, cut to 60 characters on a character boundary",
          "[e2e][exports]") {
  CHECK(ShortError("") == "");
  CHECK(ShortError("short") == "short");
  CHECK(ShortError("first line\nsecond line") == "first line...");
  const std::string long_error(100, 'x');
  CHECK(ShortError(long_error) == std::string(57, 'x') + "...");
  // "é" is two bytes; a cut between them moves before it.
  const std::string accented = std::string(56, 'a') + "\xC3\xA9" + std::string(10, 'b');
  CHECK(ShortError(accented) == std::string(56, 'a') + "...");
}

TEST_CASE("history has one row per trial and epoch with every metric and the parameters",
          "[e2e][exports]") {
  const fs::path dir = CurveStudy();
  const StoredStudy stored = ReadStudy(dir, "curve-exports");
  const auto trials = ByNumber(stored.trials);

  const auto csv = RunCommand(Ensweep() + " history " + Study(dir));
  INFO(csv.output);
  REQUIRE(csv.status == 0);
  const CsvTable table = ParseCsv(csv.output, "history");
  CHECK(table.header == std::vector<std::string>{"study", "trial", "state", "epoch", "noiseless",
                                                 "val_acc", "at", "elapsed_s", "act", "depth",
                                                 "drop", "lr"});
  REQUIRE(table.rows.size() == 6 * 3);
  std::set<std::pair<int64_t, int>> seen;
  for (const auto& row : table.rows) {
    const int64_t number = std::stoll(row[table.Column("trial")]);
    const int epoch = std::stoi(row[table.Column("epoch")]);
    seen.insert({number, epoch});
    const TrialRecord& t = trials.at(number);
    CHECK(row[table.Column("study")] == "curve-exports");
    CHECK(row[table.Column("state")] == "COMPLETE");
    const auto epochs = stored.store->Epochs(t.id);
    REQUIRE(epoch >= 1);
    REQUIRE(epoch <= static_cast<int>(epochs.size()));
    const EpochRecord& e = epochs[epoch - 1];
    CHECK(std::stod(row[table.Column("val_acc")]) == e.metrics.at("val_acc"));
    CHECK(std::stod(row[table.Column("noiseless")]) == e.metrics.at("noiseless"));
    CHECK(std::stod(row[table.Column("at")]) == e.at);
    CHECK(std::stod(row[table.Column("elapsed_s")]) >= 0);
    CHECK(row[table.Column("act")] == t.params["act"].get<std::string>());
    CHECK(std::stoi(row[table.Column("depth")]) == t.params["depth"].get<int>());
    CHECK(row[table.Column("drop")].empty() == !t.params.contains("drop"));
  }
  CHECK(seen.size() == 18);

  // JSON records with the same columns, written to a file.
  const fs::path out = dir / "history.json";
  const auto json =
      RunCommand(Ensweep() + " history " + Study(dir) + " -f json -o " + out.string());
  INFO(json.output);
  REQUIRE(json.status == 0);
  CHECK_THAT(json.output, Catch::Contains("18 rows (6 trials)"));
  const auto records = nlohmann::json::parse(ReadFile(out));
  REQUIRE(records.size() == 18);
  for (size_t r = 0; r < records.size(); ++r) {
    for (size_t c = 0; c < table.header.size(); ++c) {
      const auto& value = records[r][table.header[c]];
      INFO("row " << r << ", " << table.header[c]);
      CHECK(CsvText(value) == table.rows[r][c]);
    }
  }
}

TEST_CASE("history lists a trial without any epoch once, with an empty epoch", "[e2e][exports]") {
  const fs::path dir = FailingStudy();
  const StoredStudy stored = ReadStudy(dir, "failing");
  const auto csv = RunCommand(Ensweep() + " history " + Study(dir) + " -f csv");
  REQUIRE(csv.status == 0);
  const CsvTable table = ParseCsv(csv.output, "history");
  size_t expected = 0;
  for (const auto& t : stored.trials)
    expected += std::max<size_t>(1, stored.store->Epochs(t.id).size());
  REQUIRE(table.rows.size() == expected);
  for (const auto& row : table.rows)
    CHECK(row[table.Column("epoch")].empty() == (row[table.Column("state")] == "FAILED"));

  const auto bad = RunCommand(Ensweep() + " history " + Study(dir) + " -o " +
                              (dir / "missing/folder/h.csv").string());
  CHECK(bad.status == 2);
  CHECK_THAT(bad.output, Catch::Contains("--output: cannot write"));
}

TEST_CASE("importance prints a bar per parameter, or JSON, and says when trials are too few",
          "[e2e][importance]") {
  const fs::path dir = CurveStudy();
  const auto json = RunCommand(Ensweep() + " importance " + Study(dir) + " -f json --seed 7");
  INFO(json.output);
  REQUIRE(json.status == 0);
  const auto parsed = nlohmann::json::parse(json.output);
  CHECK(parsed["method"] == "fanova");
  CHECK(parsed["seed"] == 7);
  CHECK(parsed["trials_used"] == 6);
  CHECK(parsed["study"] == "curve-exports");
  std::set<std::string> params;
  double sum = 0;
  for (const auto& p : parsed["importances"]) {
    params.insert(p["param"].get<std::string>());
    sum += p["importance"].get<double>();
  }
  CHECK(params == std::set<std::string>{"act", "depth", "drop", "lr"});
  CHECK(sum == Approx(1.0));

  const auto table = RunCommand(Ensweep() + " importance " + Study(dir) + " --seed 7");
  REQUIRE(table.status == 0);
  const auto lines = Lines(table.output);
  REQUIRE(lines.size() == 2 + 4);
  CHECK_THAT(lines[0], Catch::Contains("fANOVA") && Catch::Contains("6 complete trials") &&
                           Catch::Contains("seed 7"));
  const std::string top = parsed["importances"][0]["param"];
  CHECK(lines[2].rfind(top, 0) == 0);
  CHECK_THAT(lines[2], Catch::EndsWith(std::string(40, '#')));

  const fs::path failing = FailingStudy();
  const auto few = RunCommand(Ensweep() + " importance " + Study(failing));
  CHECK(few.status == 0);
  CHECK_THAT(few.output, Catch::Contains("not enough complete trials yet"));
  const auto missing =
      RunCommand(Ensweep() + " importance --db " + (failing / "nothing.sqlite").string());
  CHECK(missing.status == 2);
}

TEST_CASE("a CSV field holds a number at full precision and says nan or inf where JSON cannot",
          "[e2e][exports]") {
  CHECK(CsvText(nlohmann::json(0.1)) == "0.1");
  CHECK(std::stod(CsvText(nlohmann::json(1.0 / 3))) == 1.0 / 3);
  CHECK(CsvText(nlohmann::json(64)) == "64");
  CHECK(CsvText(nlohmann::json("resnet18")) == "resnet18");
  CHECK(CsvText(nlohmann::json()) == "");
  CHECK(CsvText(nlohmann::json(true)) == "true");
  CHECK(CsvText(nlohmann::json(std::nan(""))) == "nan");
  CHECK(CsvText(nlohmann::json(-HUGE_VAL)) == "-inf");
}
