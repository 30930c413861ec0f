#include "core/study.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "core/data_edits.h"
#include "core/error.h"
#include "core/study_checks.h"
#include "core/study_document.h"
#include "core/study_space.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

constexpr size_t kMaxNameLength = 128;
// Ranges of the counts in a study file (studies/README.md lists them beside each key).
constexpr int64_t kMaxTrials = 1000000;
constexpr int64_t kMaxEpochs = 10000;
constexpr int64_t kMaxImageSide = 4096;
constexpr int64_t kMaxFolds = 32;
constexpr int64_t kMaxCandidates = 10000;
constexpr int64_t kMaxReduction = 100;
constexpr int64_t kMaxRetries = 10000;
constexpr int64_t kMaxEnsembleRounds = 100000;
constexpr int64_t kMaxBags = 1000;
constexpr size_t kMaxOnePer = 100;
constexpr double kDay = 24 * 3600;
constexpr double kMaxBudgetSeconds = 365 * kDay;

// [A-Za-z0-9][A-Za-z0-9_.-]*, at most kMaxNameLength characters.
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  const auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  fs::path p(path);
  if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

}  // namespace

double ParseDurationSeconds(const Json& value, const std::string& where) {
  if (value.is_number()) {
    const double seconds = value.get<double>();
    if (!std::isfinite(seconds) || seconds < 0) {
      throw UserError(where + ": expected a duration >= 0, got " + Describe(value));
    }
    return seconds;
  }
  // [<n>h][<n>m][<n>s] with optional blanks, <n> digits with an optional fraction, at least one
  // part, in that order. Read by hand: a regex would recurse once per character.
  const std::string text = value.is_string() ? value.get<std::string>() : "";
  const auto fail = [&] {
    throw UserError(where + ": expected a duration like 90s, 30m, 2h or 1h30m, got " +
                    Describe(value));
  };
  if (text.empty() || text.size() > 64) fail();
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  const auto skip_blanks = [&] {
    while (i < text.size() && blank(text[i])) ++i;
  };
  double seconds = 0;
  int parts = 0;
  const std::string units = "hms";
  size_t next_unit = 0;  // units must come in the order h, m, s
  skip_blanks();
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && digit(text[i])) ++i;
    if (i == start) fail();
    if (i < text.size() && text[i] == '.') {
      const size_t fraction = ++i;
      while (i < text.size() && digit(text[i])) ++i;
      if (i == fraction) fail();
    }
    const double number = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    skip_blanks();
    const size_t unit = i < text.size() ? units.find(text[i], next_unit) : std::string::npos;
    if (unit == std::string::npos) fail();
    seconds += number * (unit == 0 ? 3600 : unit == 1 ? 60 : 1);
    next_unit = unit + 1;
    ++parts;
    ++i;
    skip_blanks();
  }
  if (parts == 0 || !std::isfinite(seconds)) fail();
  return seconds;
}

namespace {

// A duration key in seconds: `expected` gives examples of the form, and the value must lie in
// [min_s, max_s], which `range_text` says in words.
double Duration(const Checker& c, const Json& value, const std::string& path,
                const std::string& expected, double min_s, double max_s,
                const std::string& range_text) {
  double seconds = 0;
  try {
    seconds = ParseDurationSeconds(value, path);
  } catch (const UserError&) {
    c.Fail(path, "expected a duration like " + expected + ", got " + Describe(value));
  }
  if (seconds < min_s || seconds > max_s) {
    c.Fail(path, "expected " + range_text + ", got " + Describe(value));
  }
  return seconds;
}

int SmallInt(const Checker& c, const Json& value, const std::string& path, int64_t min_value,
             int64_t max_value) {
  return static_cast<int>(c.Integer(value, path, min_value, max_value));
}

uint64_t Seed(const Checker& c, const Json& value, const std::string& path) {
  return static_cast<uint64_t>(c.Integer(value, path, 0, kMaxSeed));
}

// --- trainer ---

TrainerSpec ParseTrainer(const Checker& c, const Json& t) {
  c.OnlyKeys(t, "trainer", {"type", "epoch_time", "noise"});
  TrainerSpec trainer;
  if (t.contains("type")) trainer.type = c.Option<TrainerType>(t["type"], "trainer.type");
  if (t.contains("epoch_time")) {
    trainer.epoch_time_s = Duration(c, t["epoch_time"], "trainer.epoch_time",
                                    "0.01 (seconds), 2s or 1m", 0, kDay, "at most 24h");
  }
  if (t.contains("noise")) {
    trainer.noise = c.Number(t["noise"], "trainer.noise");
    if (trainer.noise < 0) c.Fail("trainer.noise", "expected a number >= 0");
  }
  return trainer;
}

Json TrainerToJson(const TrainerSpec& trainer) {
  return {{"type", OptionName(trainer.type)},
          {"epoch_time", trainer.epoch_time_s},
          {"noise", trainer.noise}};
}

// --- data ---

// csv reads CSV files; mask and imagefolder read folders. A path that does not exist yet is
// accepted here (the run reports it); one of the wrong kind is refused now.
void CheckDataPathKind(const Checker& c, DataFormat format, const std::string& key,
                       const std::string& path, const std::string& expected) {
  const bool csv = format == DataFormat::kCsv;
  std::error_code ec;  // a path that cannot be examined is reported when a run starts
  if ((csv && fs::is_directory(path, ec)) || (!csv && fs::is_regular_file(path, ec))) {
    c.Fail(key, path + " is a " + (csv ? "folder" : "file") + " but data.format " +
                    OptionName(format) + " expects " + expected);
  }
}

SplitSpec ParseSplit(const Checker& c, const Json& split) {
  c.OnlyKeys(split, "data.split", {"by", "val_fraction", "folds", "seed"});
  SplitSpec s;
  if (split.contains("by")) s.by = c.Option<SplitBy>(split["by"], "data.split.by");
  if (split.contains("val_fraction")) {
    s.val_fraction = c.Number(split["val_fraction"], "data.split.val_fraction");
    if (s.val_fraction <= 0 || s.val_fraction >= 1) {
      c.Fail("data.split.val_fraction", "expected a fraction strictly between 0 and 1");
    }
  }
  if (split.contains("folds"))
    s.folds = SmallInt(c, split["folds"], "data.split.folds", 1, kMaxFolds);
  if (split.contains("seed")) s.seed = Seed(c, split["seed"], "data.split.seed");
  return s;
}

// data.exclude / data.relabel: an existing CSV in the format of core/data_edits.h, read now so
// that a malformed file is reported when the study loads (naming the file and line).
std::string ParseEditsFile(const Checker& c, const Json& data, const std::string& base_dir,
                           const std::string& name) {
  if (!data.contains(name) || data[name].is_null()) return "";
  const std::string key = "data." + name;
  const std::string path = ResolvePath(base_dir, c.Path(data[name], key));
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    c.Fail(key, path +
                    " is not a file; expected a CSV in the format `ensweep audit` writes "
                    "(suspects.csv)");
  }
  try {
    ReadLabelEdits(path);
  } catch (const UserError& e) {
    c.Fail(key, e.what());
  }
  return path;
}

// The data block. Built-in objectives read no data, so they need none (and get the defaults).
DataSpec ParseData(const Checker& c, const Json& doc, const std::string& base_dir,
                   TrainerType trainer) {
  if (!doc.contains("data")) {
    if (trainer == TrainerType::kTorch)
      c.Fail("data", "missing; expected at least {train: <folder>}");
    return DataSpec{};
  }
  const Json& data = c.Object(doc, "data", "data");
  c.OnlyKeys(data, "data",
             {"format", "train", "eval", "image_size", "split", "exclude", "relabel"});
  DataSpec d;
  if (data.contains("format")) d.format = c.Option<DataFormat>(data["format"], "data.format");
  const std::string expected_train =
      d.format == DataFormat::kCsv ? "a CSV file with the columns path,label (and optionally group)"
      : d.format == DataFormat::kImageFolder ? "a folder with one sub-folder of images per class"
                                             : "the training data folder";
  if (!data.contains("train")) c.Fail("data.train", "missing; expected " + expected_train);
  d.train = ResolvePath(base_dir, c.Path(data["train"], "data.train"));
  CheckDataPathKind(c, d.format, "data.train", d.train, expected_train);
  if (data.contains("eval") && !data["eval"].is_null()) {
    d.eval = ResolvePath(base_dir, c.Path(data["eval"], "data.eval"));
    CheckDataPathKind(c, d.format, "data.eval", d.eval,
                      d.format == DataFormat::kCsv ? "a CSV file with a path column"
                      : d.format == DataFormat::kImageFolder
                          ? "a folder of eval images"
                          : "the eval folder (info.csv and images/)");
  }
  if (data.contains("image_size")) {
    const Json& size = data["image_size"];
    if (!size.is_array() || size.size() != 2) c.Fail("data.image_size", "expected [width, height]");
    d.width = SmallInt(c, size[0], "data.image_size[0]", 8, kMaxImageSide);
    d.height = SmallInt(c, size[1], "data.image_size[1]", 8, kMaxImageSide);
  }
  if (data.contains("split")) d.split = ParseSplit(c, c.Object(data, "split", "data.split"));
  d.exclude = ParseEditsFile(c, data, base_dir, "exclude");
  d.relabel = ParseEditsFile(c, data, base_dir, "relabel");
  return d;
}

Json DataToJson(const DataSpec& data) {
  Json j = {{"format", OptionName(data.format)},
            {"train", data.train},
            {"image_size", {data.width, data.height}},
            {"split",
             {{"by", OptionName(data.split.by)},
              {"val_fraction", data.split.val_fraction},
              {"folds", data.split.folds},
              {"seed", data.split.seed}}}};
  if (!data.eval.empty()) j["eval"] = data.eval;
  if (!data.exclude.empty()) j["exclude"] = data.exclude;
  if (!data.relabel.empty()) j["relabel"] = data.relabel;
  return j;
}

// --- objective ---

// The built-in objectives default to what they report: Branin and Hartmann6 a value to
// minimise, the curve simulator a validation accuracy to maximise.
ObjectiveSpec ParseObjective(const Checker& c, const Json& doc, TrainerType trainer) {
  ObjectiveSpec o;
  if (trainer == TrainerType::kBranin || trainer == TrainerType::kHartmann6) {
    o.metric = "value";
    o.maximize = false;
  } else if (trainer == TrainerType::kCurve) {
    o.metric = "val_accuracy";
  }
  if (!doc.contains("objective")) return o;
  const Json& j = c.Object(doc, "objective", "objective");
  c.OnlyKeys(j, "objective", {"metric", "direction", "scope"});
  if (j.contains("metric")) o.metric = c.String(j["metric"], "objective.metric");
  if (j.contains("direction")) {
    o.maximize =
        c.Enum(j["direction"], "objective.direction", {"maximize", "minimize"}) == "maximize";
  }
  if (j.contains("scope")) {
    o.best_epoch = c.Enum(j["scope"], "objective.scope", {"best", "last"}) == "best";
  }
  return o;
}

Json ObjectiveToJson(const ObjectiveSpec& objective) {
  Json j = {{"metric", objective.metric},
            {"direction", objective.maximize ? "maximize" : "minimize"}};
  // Written only when not the default, so that a study stored before the key existed keeps its
  // normalised JSON (and spec hash).
  if (!objective.best_epoch) j["scope"] = "last";
  return j;
}

// --- budget ---

BudgetSpec ParseBudget(const Checker& c, const Json& b) {
  c.OnlyKeys(b, "budget", {"trials", "epochs", "time", "target"});
  BudgetSpec budget;
  if (b.contains("target") && !b["target"].is_null()) {
    budget.target = c.Number(b["target"], "budget.target");
  }
  if (b.contains("trials")) budget.trials = c.Integer(b["trials"], "budget.trials", 1, kMaxTrials);
  if (b.contains("epochs"))
    budget.epochs = SmallInt(c, b["epochs"], "budget.epochs", 1, kMaxEpochs);
  if (b.contains("time") && !b["time"].is_null()) {
    budget.time_s = Duration(c, b["time"], "budget.time", "90s, 30m, 2h or 1h30m", 0,
                             kMaxBudgetSeconds, "at most 365 days (8760h)");
  }
  return budget;
}

Json BudgetToJson(const BudgetSpec& budget) {
  Json j = {{"trials", budget.trials}, {"epochs", budget.epochs}, {"time", budget.time_s}};
  if (budget.target) j["target"] = *budget.target;
  return j;
}

// --- sampler ---

SamplerSpec ParseSampler(const Checker& c, const Json& p) {
  c.OnlyKeys(p, "sampler",
             {"type", "startup_trials", "seed", "candidates", "gamma", "gamma_cap", "constant_liar",
              "multivariate"});
  SamplerSpec s;
  if (p.contains("type")) s.type = c.Option<SamplerType>(p["type"], "sampler.type");
  if (p.contains("candidates")) {
    s.candidates = SmallInt(c, p["candidates"], "sampler.candidates", 1, kMaxCandidates);
  }
  if (p.contains("gamma")) {
    s.gamma = c.Number(p["gamma"], "sampler.gamma");
    if (s.gamma <= 0 || s.gamma >= 1) {
      c.Fail("sampler.gamma", "expected a fraction strictly between 0 and 1");
    }
  }
  if (p.contains("gamma_cap")) {
    s.gamma_cap = SmallInt(c, p["gamma_cap"], "sampler.gamma_cap", 1, kMaxTrials);
  }
  if (p.contains("constant_liar")) {
    s.constant_liar = c.Bool(p["constant_liar"], "sampler.constant_liar");
  }
  if (p.contains("multivariate"))
    s.multivariate = c.Bool(p["multivariate"], "sampler.multivariate");
  if (p.contains("startup_trials")) {
    s.startup_trials = SmallInt(c, p["startup_trials"], "sampler.startup_trials", 0, kMaxTrials);
  }
  if (p.contains("seed")) s.seed = Seed(c, p["seed"], "sampler.seed");
  if (!p.contains("candidates") && s.multivariate) {
    s.candidates = SamplerSpec::kMultivariateCandidates;
  }
  return s;
}

Json SamplerToJson(const SamplerSpec& sampler) {
  return {{"type", OptionName(sampler.type)},
          {"startup_trials", sampler.startup_trials},
          {"seed", sampler.seed},
          {"candidates", sampler.candidates},
          {"gamma", sampler.gamma},
          {"gamma_cap", sampler.gamma_cap},
          {"constant_liar", sampler.constant_liar},
          {"multivariate", sampler.multivariate}};
}

// --- pruner ---

PrunerSpec ParsePruner(const Checker& c, const Json& p) {
  c.OnlyKeys(p, "pruner", {"type", "min_epochs", "reduction", "startup_trials"});
  PrunerSpec pruner;
  if (p.contains("type")) pruner.type = c.Option<PrunerType>(p["type"], "pruner.type");
  if (p.contains("startup_trials")) {
    pruner.startup_trials =
        SmallInt(c, p["startup_trials"], "pruner.startup_trials", 0, kMaxTrials);
  }
  if (p.contains("min_epochs")) {
    pruner.min_epochs = SmallInt(c, p["min_epochs"], "pruner.min_epochs", 1, kMaxEpochs);
  }
  if (p.contains("reduction")) {
    pruner.reduction = SmallInt(c, p["reduction"], "pruner.reduction", 2, kMaxReduction);
  }
  return pruner;
}

Json PrunerToJson(const PrunerSpec& pruner) {
  return {{"type", OptionName(pruner.type)},
          {"min_epochs", pruner.min_epochs},
          {"reduction", pruner.reduction},
          {"startup_trials", pruner.startup_trials}};
}

// --- resources ---

ResourceSpec ParseResources(const Checker& c, const Json& r) {
  c.OnlyKeys(r, "resources",
             {"slots_per_trial", "gpus_per_trial", "max_retries", "heartbeat_timeout"});
  ResourceSpec resources;
  if (r.contains("slots_per_trial")) {
    resources.slots_per_trial =
        SmallInt(c, r["slots_per_trial"], "resources.slots_per_trial", 1, kMaxSlotsPerTrial);
  }
  if (r.contains("gpus_per_trial")) {
    // The old name (1 was its only value), kept so that older study files and stored studies
    // still load.
    if (r.contains("slots_per_trial")) {
      c.Fail("resources.gpus_per_trial",
             "give only resources.slots_per_trial (gpus_per_trial is its old name)");
    }
    resources.slots_per_trial =
        SmallInt(c, r["gpus_per_trial"], "resources.gpus_per_trial", 1, kMaxSlotsPerTrial);
    c.Warn("resources.gpus_per_trial",
           "renamed resources.slots_per_trial (a slot is one GPU, or one worker process on "
           "CPUs); read as that");
  }
  if (r.contains("max_retries")) {
    resources.max_retries = SmallInt(c, r["max_retries"], "resources.max_retries", 0, kMaxRetries);
  }
  if (r.contains("heartbeat_timeout")) {
    resources.heartbeat_timeout_s =
        Duration(c, r["heartbeat_timeout"], "resources.heartbeat_timeout", "90s or 5m", 1, kDay,
                 "from 1s to 24h");
  }
  return resources;
}

Json ResourcesToJson(const ResourceSpec& resources) {
  return {{"slots_per_trial", resources.slots_per_trial},
          {"max_retries", resources.max_retries},
          {"heartbeat_timeout", resources.heartbeat_timeout_s}};
}

// --- checkpoints ---

CheckpointSpec ParseCheckpoints(const Checker& c, const Json& k) {
  c.OnlyKeys(k, "checkpoints", {"keep"});
  CheckpointSpec checkpoints;
  if (!k.contains("keep")) return checkpoints;
  const Json& keep = k["keep"];
  if (keep.is_string()) {
    checkpoints.keep =
        c.Enum(keep, "checkpoints.keep", {"all", "none"}) == "all" ? CheckpointSpec::kAll : 0;
  } else if (keep.is_number_integer() || keep.is_number_unsigned()) {
    checkpoints.keep = c.Integer(keep, "checkpoints.keep", 0, kMaxTrials);
  } else {
    c.Fail("checkpoints.keep",
           "expected all, none or a number of trials (0 to " + std::to_string(kMaxTrials) + ")");
  }
  return checkpoints;
}

Json CheckpointsToJson(const CheckpointSpec& checkpoints) {
  if (checkpoints.keep == CheckpointSpec::kAll) return {{"keep", "all"}};
  return {{"keep", checkpoints.keep}};
}

// --- ensemble ---

std::vector<std::string> ParseOnePer(const Checker& c, const Json& keys) {
  if (!keys.is_array() || keys.empty() || keys.size() > kMaxOnePer) {
    c.Fail("ensemble.one_per", "expected a list of 1 to " + std::to_string(kMaxOnePer) +
                                   " parameter names, got " + Describe(keys));
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string path = "ensemble.one_per[" + std::to_string(i) + "]";
    const std::string key = c.String(keys[i], path);
    if (std::find(names.begin(), names.end(), key) != names.end()) {
      c.Fail(path, "'" + key + "' is listed twice");
    }
    names.push_back(key);
  }
  return names;
}

EnsembleSpec ParseEnsemble(const Checker& c, const Json& e) {
  c.OnlyKeys(e, "ensemble",
             {"candidates", "method", "size", "tta", "rounds", "init", "bags", "bag_fraction",
              "metric", "top_n", "include_pruned", "one_per_backbone", "one_per", "seed"});
  EnsembleSpec en;
  const auto count = [&](const char* key, int& field, int64_t min_value, int64_t max_value) {
    if (e.contains(key))
      field = SmallInt(c, e[key], JoinPath("ensemble", key), min_value, max_value);
  };
  count("candidates", en.candidates, 1, kMaxCandidates);
  count("size", en.size, 1, kMaxCandidates);
  count("rounds", en.rounds, 1, kMaxEnsembleRounds);
  count("init", en.init, 1, kMaxCandidates);
  count("bags", en.bags, 1, kMaxBags);
  count("top_n", en.top_n, 0, kMaxCandidates);
  if (e.contains("method")) en.method = c.Option<EnsembleMethod>(e["method"], "ensemble.method");
  if (e.contains("tta")) en.tta = c.Option<EnsembleTta>(e["tta"], "ensemble.tta");
  if (e.contains("metric")) en.metric = c.Option<EnsembleMetric>(e["metric"], "ensemble.metric");
  if (e.contains("bag_fraction")) {
    en.bag_fraction = c.Number(e["bag_fraction"], "ensemble.bag_fraction");
    if (en.bag_fraction <= 0 || en.bag_fraction > 1) {
      c.Fail("ensemble.bag_fraction", "expected a number in (0, 1]");
    }
  }
  if (e.contains("include_pruned")) {
    en.include_pruned = c.Bool(e["include_pruned"], "ensemble.include_pruned");
  }
  if (e.contains("one_per_backbone")) {
    en.one_per_backbone = c.Bool(e["one_per_backbone"], "ensemble.one_per_backbone");
  }
  if (e.contains("one_per")) en.one_per = ParseOnePer(c, e["one_per"]);
  if (e.contains("seed")) en.seed = Seed(c, e["seed"], "ensemble.seed");
  return en;
}

Json EnsembleToJson(const EnsembleSpec& ensemble) {
  Json j = {{"candidates", ensemble.candidates},
            {"method", OptionName(ensemble.method)},
            {"size", ensemble.size},
            {"tta", OptionName(ensemble.tta)},
            {"rounds", ensemble.rounds},
            {"init", ensemble.init},
            {"bags", ensemble.bags},
            {"bag_fraction", ensemble.bag_fraction},
            {"metric", OptionName(ensemble.metric)},
            {"top_n", ensemble.top_n},
            {"include_pruned", ensemble.include_pruned},
            {"one_per_backbone", ensemble.one_per_backbone},
            {"seed", ensemble.seed}};
  if (!ensemble.one_per.empty()) j["one_per"] = ensemble.one_per;
  return j;
}

// --- space ---

SearchSpace ParseSearchSpace(const Checker& c, const Json& doc, SamplerType sampler) {
  SearchSpace space;
  if (!doc.contains("space") || doc["space"].is_null()) return space;
  space.params = ParseSpace(c, c.Object(doc, "space", "space"));
  if (sampler != SamplerType::kGrid) return space;
  for (const ParamSpec& p : space.params) {
    if (Continuous(p.kind)) {
      c.Fail(JoinPath("space", p.name),
             std::string("the grid sampler needs discrete parameters (constant, choice or "
                         "int), but this one is ") +
                 ParamKindName(p.kind) + "; use choice: [...] or another sampler");
    }
  }
  return space;
}

Json SpaceToJson(const SearchSpace& space) {
  Json j = Json::object();
  for (const auto& p : space.params) j[p.name] = ParamToJson(p);
  return j;
}

// --- enqueue ---

// `stored`: a normalised spec from the store or a message, whose enqueue list may have outgrown
// the trial budget through `ensweep run --trials` (a study file's may not).
std::vector<Json> ParseEnqueue(const Checker& c, const Json& doc, const StudySpec& s, bool stored) {
  std::vector<Json> entries;
  if (!doc.contains("enqueue") || doc["enqueue"].is_null()) return entries;
  const Json& enqueue = doc["enqueue"];
  if (!enqueue.is_array()) c.Fail("enqueue", "expected a list of {parameter: value} mappings");
  if (!stored && static_cast<int64_t>(enqueue.size()) > s.budget.trials) {
    // Every entry would run: more entries than trials would exceed the budget silently.
    const bool given = doc.contains("budget") && doc["budget"].contains("trials");
    c.Fail("enqueue", std::to_string(enqueue.size()) + " entries but budget.trials is " +
                          std::to_string(s.budget.trials) + (given ? "" : " (the default)") +
                          "; every enqueued trial counts against the budget: raise "
                          "budget.trials to at least " +
                          std::to_string(enqueue.size()) + " or remove entries");
  }
  for (size_t i = 0; i < enqueue.size(); ++i) {
    const std::string path = "enqueue[" + std::to_string(i) + "]";
    if (!enqueue[i].is_object()) c.Fail(path, "expected a mapping of parameter: value");
    for (const auto& item : enqueue[i].items()) {
      const ParamSpec* p = s.space.Find(item.key());
      if (p == nullptr) c.Fail(JoinPath(path, item.key()), "not a parameter of space");
      if (!ValueInDomain(*p, item.value())) {
        c.Fail(JoinPath(path, item.key()), Describe(item.value()) + " is outside the parameter's " +
                                               ParamKindName(p->kind) + " domain");
      }
    }
    entries.push_back(enqueue[i]);
  }
  return entries;
}

// --- the whole study ---

void ParseIdentity(const Checker& c, const Json& doc, const std::string& base_dir, StudySpec& s) {
  if (!doc.contains("study")) c.Fail("study", "missing; expected the study's name");
  s.name = c.String(doc["study"], "study");
  if (!ValidName(s.name)) {
    c.Fail("study", "expected a name of 1 to " + std::to_string(kMaxNameLength) +
                        " letters, digits, '_', '-' or '.' (starting with a letter or digit), "
                        "got " +
                        Describe(doc["study"]));
  }
  s.storage = ResolvePath(
      base_dir, doc.contains("storage") ? c.Path(doc["storage"], "storage") : "ensweep.sqlite");
  s.artifacts =
      ResolvePath(base_dir, doc.contains("artifacts") ? c.Path(doc["artifacts"], "artifacts")
                                                      : "artifacts/" + s.name);
}

// A block given in the document (null: the defaults), checked to be a mapping.
template <typename Spec, typename Parse>
Spec Block(const Checker& c, const Json& doc, const char* key, Parse parse) {
  if (!doc.contains(key)) return Spec{};
  return parse(c, c.Object(doc, key, key));
}

// `stored`: see ParseEnqueue. `file`: a study file or text (not a document built in code, nor a
// stored one), whose trial parameters are checked against the trainer and which may warn.
StudySpec ParseStudyImpl(const Json& doc, const Checker& c, const std::string& base_dir,
                         bool stored, bool file) {
  if (!doc.is_object()) c.Fail("", "expected a mapping at the top level of the study file");
  c.OnlyKeys(doc, "",
             {"study", "storage", "artifacts", "data", "objective", "budget", "sampler", "pruner",
              "resources", "enqueue", "space", "ensemble", "trainer", "checkpoints"});
  StudySpec s;
  ParseIdentity(c, doc, base_dir, s);
  s.trainer = Block<TrainerSpec>(c, doc, "trainer", ParseTrainer);
  s.data = ParseData(c, doc, base_dir, s.trainer.type);
  s.objective = ParseObjective(c, doc, s.trainer.type);
  s.budget = Block<BudgetSpec>(c, doc, "budget", ParseBudget);
  s.sampler = Block<SamplerSpec>(c, doc, "sampler", ParseSampler);
  s.pruner = Block<PrunerSpec>(c, doc, "pruner", ParsePruner);
  s.resources = Block<ResourceSpec>(c, doc, "resources", ParseResources);
  s.ensemble = Block<EnsembleSpec>(c, doc, "ensemble", ParseEnsemble);
  s.checkpoints = Block<CheckpointSpec>(c, doc, "checkpoints", ParseCheckpoints);
  s.space = ParseSearchSpace(c, doc, s.sampler.type);
  s.enqueue = ParseEnqueue(c, doc, s, stored);
  if (file) {
    CheckTrialParamsForTrainer(c, s);
    WarnIneffectiveKeys(c, doc, s);
  }
  return s;
}

void PrintWarnings(const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) std::cerr << warning << "\n";
}

}  // namespace

Json StudySpec::ToJson() const {
  Json j;
  j["study"] = name;
  j["storage"] = storage;
  j["artifacts"] = artifacts;
  // A built-in objective's study without a data block stays without one.
  if (trainer.type == TrainerType::kTorch || !data.train.empty()) j["data"] = DataToJson(data);
  j["objective"] = ObjectiveToJson(objective);
  j["budget"] = BudgetToJson(budget);
  j["sampler"] = SamplerToJson(sampler);
  j["pruner"] = PrunerToJson(pruner);
  j["trainer"] = TrainerToJson(trainer);
  j["resources"] = ResourcesToJson(resources);
  j["enqueue"] = enqueue;
  j["space"] = SpaceToJson(space);
  j["ensemble"] = EnsembleToJson(ensemble);
  // Written only when not the default (keep all), like objective.scope.
  if (checkpoints.keep != CheckpointSpec::kAll) j["checkpoints"] = CheckpointsToJson(checkpoints);
  return j;
}

StudySpec ParseStudy(const Json& document, const std::string& origin, const std::string& base_dir) {
  return ParseStudyImpl(document, Checker(origin, nullptr), base_dir, false, false);
}

StudySpec StudyFromJson(const Json& normalised) {
  return ParseStudyImpl(normalised, Checker("stored study", nullptr), "", true, false);
}

StudySpec LoadStudyText(const std::string& text, const std::string& origin,
                        const std::string& base_dir, std::vector<std::string>* warnings) {
  LineMap lines;
  const Json document = ParseYamlText(text, origin, lines);
  std::vector<std::string> found;
  StudySpec spec = ParseStudyImpl(document, Checker(origin, &lines, &found), base_dir, false, true);
  if (warnings != nullptr) {
    warnings->insert(warnings->end(), found.begin(), found.end());
  } else {
    PrintWarnings(found);
  }
  return spec;
}

StudySpec LoadStudyFile(const std::string& path, std::vector<std::string>* warnings) {
  LineMap lines;
  const Json document = ReadYamlDocument(path, lines);
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  absolute = absolute.lexically_normal();
  std::vector<std::string> found;
  StudySpec spec = ParseStudyImpl(document, Checker(path, &lines, &found),
                                  absolute.parent_path().string(), false, true);
  spec.source_path = absolute.string();
  if (warnings != nullptr) {
    warnings->insert(warnings->end(), found.begin(), found.end());
  } else {
    PrintWarnings(found);
  }
  return spec;
}

int SlotsOfTrial(const StudySpec& spec, const Json& params) {
  if (params.is_object()) {
    const auto it = params.find("slots_per_trial");
    if (it != params.end() && it->is_number()) {
      const double slots = it->get<double>();
      if (slots >= 1 && slots <= kMaxSlotsPerTrial) return static_cast<int>(slots);
    }
  }
  return spec.resources.slots_per_trial;
}

int MaxSlotsPerTrial(const StudySpec& spec) {
  int most = spec.resources.slots_per_trial;
  const auto note = [&](const Json& value) {
    if (value.is_number()) most = std::max(most, static_cast<int>(value.get<double>()));
  };
  if (const ParamSpec* p = spec.space.Find("slots_per_trial")) {
    if (p->kind == ParamKind::kConstant) note(p->constant);
    for (const Json& choice : p->choices) note(choice);
    if (p->kind == ParamKind::kInt || p->kind == ParamKind::kUniform ||
        p->kind == ParamKind::kLogUniform) {
      note(Json(p->high));
    }
  }
  for (const Json& entry : spec.enqueue) {
    if (entry.is_object() && entry.contains("slots_per_trial")) note(entry["slots_per_trial"]);
  }
  return most;
}

}  // namespace ensweep
