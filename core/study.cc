#include "core/study.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
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

// `stored`: a normalised spec from the store or a message, whose enqueue list may have outgrown
// the trial budget through `ensweep run --trials` (a study file's may not).
StudySpec ParseStudyImpl(const Json& doc, const std::string& origin, const std::string& base_dir,
                         const LineMap* lines, bool stored) {
  const Checker c(origin, lines);
  if (!doc.is_object()) c.Fail("", "expected a mapping at the top level of the study file");
  c.OnlyKeys(doc, "",
             {"study", "storage", "artifacts", "data", "objective", "budget", "sampler", "pruner",
              "resources", "enqueue", "space", "ensemble", "trainer"});
  StudySpec s;
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

  if (doc.contains("trainer")) {
    const Json& t = c.Object(doc, "trainer", "trainer");
    c.OnlyKeys(t, "trainer", {"type", "epoch_time", "noise"});
    if (t.contains("type")) {
      s.trainer.type = c.Enum(t["type"], "trainer.type", {"torch", "branin", "hartmann6", "curve"});
    }
    if (t.contains("epoch_time")) {
      try {
        s.trainer.epoch_time_s = ParseDurationSeconds(t["epoch_time"], "trainer.epoch_time");
      } catch (const UserError&) {
        c.Fail("trainer.epoch_time", "expected a duration like 0.01 (seconds), 2s or 1m, got " +
                                         Describe(t["epoch_time"]));
      }
      if (s.trainer.epoch_time_s > kDay) {
        c.Fail("trainer.epoch_time", "expected at most 24h, got " + Describe(t["epoch_time"]));
      }
    }
    if (t.contains("noise")) {
      s.trainer.noise = c.Number(t["noise"], "trainer.noise");
      if (s.trainer.noise < 0) c.Fail("trainer.noise", "expected a number >= 0");
    }
  }
  // Built-in objectives read no data, so they need no data block.
  static const Json kNoData = {{"train", "-"}};
  if (!doc.contains("data") && s.trainer.type == "torch") {
    c.Fail("data", "missing; expected at least {train: <folder>}");
  }
  const Json& data = doc.contains("data") ? c.Object(doc, "data", "data") : kNoData;
  c.OnlyKeys(data, "data", {"format", "train", "eval", "image_size", "split"});
  if (data.contains("format"))
    s.data.format = c.Enum(data["format"], "data.format", {"mask", "imagefolder", "csv"});
  // csv reads CSV files; mask and imagefolder read folders. A path that does not exist yet is
  // accepted here (the study may be read where the data is not) and reported when a run starts.
  const bool csv = s.data.format == "csv";
  const std::string expected_train =
      csv ? "a CSV file with the columns path,label (and optionally group)"
          : (s.data.format == "imagefolder" ? "a folder with one sub-folder of images per class"
                                            : "the training data folder");
  const auto check_kind = [&](const std::string& key, const std::string& path,
                              const std::string& expected) {
    std::error_code ec;  // a path that cannot be examined is reported when a run starts
    if ((csv && fs::is_directory(path, ec)) || (!csv && fs::is_regular_file(path, ec))) {
      c.Fail(key, path + " is a " + (csv ? "folder" : "file") + " but data.format " +
                      s.data.format + " expects " + expected);
    }
  };
  if (!data.contains("train")) c.Fail("data.train", "missing; expected " + expected_train);
  s.data.train = ResolvePath(base_dir, c.Path(data["train"], "data.train"));
  check_kind("data.train", s.data.train, expected_train);
  if (data.contains("eval") && !data["eval"].is_null()) {
    s.data.eval = ResolvePath(base_dir, c.Path(data["eval"], "data.eval"));
    check_kind("data.eval", s.data.eval,
               csv ? "a CSV file with a path column"
                   : (s.data.format == "imagefolder" ? "a folder of eval images"
                                                     : "the eval folder (info.csv and images/)"));
  }
  if (data.contains("image_size")) {
    const Json& size = data["image_size"];
    if (!size.is_array() || size.size() != 2) c.Fail("data.image_size", "expected [width, height]");
    s.data.width = static_cast<int>(c.Integer(size[0], "data.image_size[0]", 8, kMaxImageSide));
    s.data.height = static_cast<int>(c.Integer(size[1], "data.image_size[1]", 8, kMaxImageSide));
  }
  if (data.contains("split")) {
    const Json& split = c.Object(data, "split", "data.split");
    c.OnlyKeys(split, "data.split", {"by", "val_fraction", "folds", "seed"});
    if (split.contains("by"))
      s.data.split.by = c.Enum(split["by"], "data.split.by", {"person", "image"});
    if (split.contains("val_fraction")) {
      s.data.split.val_fraction = c.Number(split["val_fraction"], "data.split.val_fraction");
      if (s.data.split.val_fraction <= 0 || s.data.split.val_fraction >= 1) {
        c.Fail("data.split.val_fraction", "expected a fraction strictly between 0 and 1");
      }
    }
    if (split.contains("folds"))
      s.data.split.folds =
          static_cast<int>(c.Integer(split["folds"], "data.split.folds", 1, kMaxFolds));
    if (split.contains("seed"))
      s.data.split.seed =
          static_cast<uint64_t>(c.Integer(split["seed"], "data.split.seed", 0, kMaxSeed));
  }

  if (!doc.contains("data")) s.data = DataSpec{};  // no data: a built-in objective (see above)
  // The built-in objectives default to what they report: Branin and Hartmann6 a value to
  // minimise, the curve simulator a validation accuracy to maximise.
  if (s.trainer.type == "branin" || s.trainer.type == "hartmann6") {
    s.objective.metric = "value";
    s.objective.maximize = false;
  } else if (s.trainer.type == "curve") {
    s.objective.metric = "val_accuracy";
  }
  if (doc.contains("objective")) {
    const Json& o = c.Object(doc, "objective", "objective");
    c.OnlyKeys(o, "objective", {"metric", "direction"});
    if (o.contains("metric")) s.objective.metric = c.String(o["metric"], "objective.metric");
    if (o.contains("direction")) {
      s.objective.maximize =
          c.Enum(o["direction"], "objective.direction", {"maximize", "minimize"}) == "maximize";
    }
  }
  if (doc.contains("budget")) {
    const Json& b = c.Object(doc, "budget", "budget");
    c.OnlyKeys(b, "budget", {"trials", "epochs", "time", "target"});
    if (b.contains("target") && !b["target"].is_null()) {
      s.budget.target = c.Number(b["target"], "budget.target");
    }
    if (b.contains("trials"))
      s.budget.trials = c.Integer(b["trials"], "budget.trials", 1, kMaxTrials);
    if (b.contains("epochs"))
      s.budget.epochs = static_cast<int>(c.Integer(b["epochs"], "budget.epochs", 1, kMaxEpochs));
    if (b.contains("time") && !b["time"].is_null()) {
      try {
        s.budget.time_seconds = ParseDurationSeconds(b["time"], "budget.time");
      } catch (const UserError&) {
        c.Fail("budget.time",
               "expected a duration like 90s, 30m, 2h or 1h30m, got " + Describe(b["time"]));
      }
      if (s.budget.time_seconds > kMaxBudgetSeconds) {
        c.Fail("budget.time", "expected at most 365 days (8760h), got " + Describe(b["time"]));
      }
    }
  }
  if (doc.contains("sampler")) {
    const Json& p = c.Object(doc, "sampler", "sampler");
    c.OnlyKeys(p, "sampler",
               {"type", "startup_trials", "seed", "candidates", "gamma", "gamma_cap",
                "constant_liar", "multivariate"});
    if (p.contains("type"))
      s.sampler.type = c.Enum(p["type"], "sampler.type", {"random", "grid", "tpe"});
    if (p.contains("candidates")) {
      s.sampler.candidates =
          static_cast<int>(c.Integer(p["candidates"], "sampler.candidates", 1, kMaxCandidates));
    }
    if (p.contains("gamma")) {
      s.sampler.gamma = c.Number(p["gamma"], "sampler.gamma");
      if (s.sampler.gamma <= 0 || s.sampler.gamma >= 1) {
        c.Fail("sampler.gamma", "expected a fraction strictly between 0 and 1");
      }
    }
    if (p.contains("gamma_cap")) {
      s.sampler.gamma_cap =
          static_cast<int>(c.Integer(p["gamma_cap"], "sampler.gamma_cap", 1, kMaxTrials));
    }
    if (p.contains("constant_liar")) {
      s.sampler.constant_liar = c.Bool(p["constant_liar"], "sampler.constant_liar");
    }
    if (p.contains("multivariate")) {
      s.sampler.multivariate = c.Bool(p["multivariate"], "sampler.multivariate");
    }
    if (p.contains("startup_trials"))
      s.sampler.startup_trials =
          static_cast<int>(c.Integer(p["startup_trials"], "sampler.startup_trials", 0, kMaxTrials));
    if (p.contains("seed"))
      s.sampler.seed = static_cast<uint64_t>(c.Integer(p["seed"], "sampler.seed", 0, kMaxSeed));
    if (!p.contains("candidates") && s.sampler.multivariate) {
      s.sampler.candidates = SamplerSpec::kMultivariateCandidates;
    }
  }
  if (doc.contains("pruner")) {
    const Json& p = c.Object(doc, "pruner", "pruner");
    c.OnlyKeys(p, "pruner", {"type", "min_epochs", "reduction", "startup_trials"});
    if (p.contains("type"))
      s.pruner.type = c.Enum(p["type"], "pruner.type", {"none", "median", "asha", "hyperband"});
    if (p.contains("startup_trials")) {
      s.pruner.startup_trials =
          static_cast<int>(c.Integer(p["startup_trials"], "pruner.startup_trials", 0, kMaxTrials));
    }
    if (p.contains("min_epochs"))
      s.pruner.min_epochs =
          static_cast<int>(c.Integer(p["min_epochs"], "pruner.min_epochs", 1, kMaxEpochs));
    if (p.contains("reduction"))
      s.pruner.reduction =
          static_cast<int>(c.Integer(p["reduction"], "pruner.reduction", 2, kMaxReduction));
  }
  if (doc.contains("resources")) {
    const Json& r = c.Object(doc, "resources", "resources");
    c.OnlyKeys(r, "resources", {"gpus_per_trial", "max_retries", "heartbeat_timeout"});
    if (r.contains("gpus_per_trial")) {
      s.resources.gpus_per_trial =
          static_cast<int>(c.Integer(r["gpus_per_trial"], "resources.gpus_per_trial", 1, 1));
      if (s.resources.gpus_per_trial != 1) {
        c.Fail("resources.gpus_per_trial",
               "multi-GPU trials are not available in this version; use 1");
      }
    }
    if (r.contains("max_retries"))
      s.resources.max_retries =
          static_cast<int>(c.Integer(r["max_retries"], "resources.max_retries", 0, kMaxRetries));
    if (r.contains("heartbeat_timeout")) {
      try {
        s.resources.heartbeat_timeout_s =
            ParseDurationSeconds(r["heartbeat_timeout"], "resources.heartbeat_timeout");
      } catch (const UserError&) {
        c.Fail("resources.heartbeat_timeout",
               "expected a duration like 90s or 5m, got " + Describe(r["heartbeat_timeout"]));
      }
      if (s.resources.heartbeat_timeout_s < 1 || s.resources.heartbeat_timeout_s > kDay) {
        c.Fail("resources.heartbeat_timeout",
               "expected from 1s to 24h, got " + Describe(r["heartbeat_timeout"]));
      }
    }
  }
  if (doc.contains("ensemble")) {
    const Json& e = c.Object(doc, "ensemble", "ensemble");
    c.OnlyKeys(e, "ensemble",
               {"candidates", "method", "size", "tta", "rounds", "init", "bags", "bag_fraction",
                "metric", "top_n", "include_pruned", "one_per_backbone", "one_per", "seed"});
    EnsembleSpec& en = s.ensemble;
    if (e.contains("candidates"))
      en.candidates =
          static_cast<int>(c.Integer(e["candidates"], "ensemble.candidates", 1, kMaxCandidates));
    if (e.contains("method"))
      en.method = c.Enum(e["method"], "ensemble.method", {"uniform", "greedy", "weights"});
    if (e.contains("size"))
      en.size = static_cast<int>(c.Integer(e["size"], "ensemble.size", 1, kMaxCandidates));
    if (e.contains("tta")) en.tta = c.Enum(e["tta"], "ensemble.tta", {"none", "hflip"});
    if (e.contains("rounds"))
      en.rounds =
          static_cast<int>(c.Integer(e["rounds"], "ensemble.rounds", 1, kMaxEnsembleRounds));
    if (e.contains("init"))
      en.init = static_cast<int>(c.Integer(e["init"], "ensemble.init", 1, kMaxCandidates));
    if (e.contains("bags"))
      en.bags = static_cast<int>(c.Integer(e["bags"], "ensemble.bags", 1, kMaxBags));
    if (e.contains("bag_fraction")) {
      en.bag_fraction = c.Number(e["bag_fraction"], "ensemble.bag_fraction");
      if (en.bag_fraction <= 0 || en.bag_fraction > 1)
        c.Fail("ensemble.bag_fraction", "expected a number in (0, 1]");
    }
    if (e.contains("metric"))
      en.metric = c.Enum(e["metric"], "ensemble.metric", {"macro_f1", "log_loss"});
    if (e.contains("top_n"))
      en.top_n = static_cast<int>(c.Integer(e["top_n"], "ensemble.top_n", 0, kMaxCandidates));
    if (e.contains("include_pruned"))
      en.include_pruned = c.Bool(e["include_pruned"], "ensemble.include_pruned");
    if (e.contains("one_per_backbone"))
      en.one_per_backbone = c.Bool(e["one_per_backbone"], "ensemble.one_per_backbone");
    if (e.contains("one_per")) {
      const Json& keys = e["one_per"];
      if (!keys.is_array() || keys.empty() || keys.size() > kMaxOnePer) {
        c.Fail("ensemble.one_per", "expected a list of 1 to " + std::to_string(kMaxOnePer) +
                                       " parameter names, got " + Describe(keys));
      }
      for (size_t i = 0; i < keys.size(); ++i) {
        const std::string path = "ensemble.one_per[" + std::to_string(i) + "]";
        const std::string key = c.String(keys[i], path);
        if (std::find(en.one_per.begin(), en.one_per.end(), key) != en.one_per.end()) {
          c.Fail(path, "'" + key + "' is listed twice");
        }
        en.one_per.push_back(key);
      }
    }
    if (e.contains("seed"))
      en.seed = static_cast<uint64_t>(c.Integer(e["seed"], "ensemble.seed", 0, kMaxSeed));
  }

  if (doc.contains("space") && !doc["space"].is_null()) {
    s.space.params = ParseSpace(c, c.Object(doc, "space", "space"));
  }
  if (s.sampler.type == "grid") {
    for (const ParamSpec& p : s.space.params) {
      if (Continuous(p.kind)) {
        c.Fail(JoinPath("space", p.name),
               std::string("the grid sampler needs discrete parameters (constant, choice or "
                           "int), but this one is ") +
                   ParamKindName(p.kind) + "; use choice: [...] or another sampler");
      }
    }
  }
  if (doc.contains("enqueue") && !doc["enqueue"].is_null()) {
    const Json& enqueue = doc["enqueue"];
    if (!enqueue.is_array()) c.Fail("enqueue", "expected a list of {parameter: value} mappings");
    if (!stored && static_cast<int64_t>(enqueue.size()) > s.budget.trials) {
      // Every entry would run: more entries than trials would exceed the budget silently.
      c.Fail(
          "enqueue",
          std::to_string(enqueue.size()) + " entries but budget.trials is " +
              std::to_string(s.budget.trials) +
              (doc.contains("budget") && doc["budget"].contains("trials") ? "" : " (the default)") +
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
          c.Fail(JoinPath(path, item.key()), Describe(item.value()) +
                                                 " is outside the parameter's " +
                                                 ParamKindName(p->kind) + " domain");
        }
      }
      s.enqueue.push_back(enqueue[i]);
    }
  }
  return s;
}

}  // namespace

Json StudySpec::ToJson() const {
  Json j;
  j["study"] = name;
  j["storage"] = storage;
  j["artifacts"] = artifacts;
  j["data"] = {{"format", data.format},
               {"train", data.train},
               {"image_size", {data.width, data.height}},
               {"split",
                {{"by", data.split.by},
                 {"val_fraction", data.split.val_fraction},
                 {"folds", data.split.folds},
                 {"seed", data.split.seed}}}};
  if (!data.eval.empty()) j["data"]["eval"] = data.eval;
  j["objective"] = {{"metric", objective.metric},
                    {"direction", objective.maximize ? "maximize" : "minimize"}};
  j["budget"] = {
      {"trials", budget.trials}, {"epochs", budget.epochs}, {"time", budget.time_seconds}};
  if (budget.target) j["budget"]["target"] = *budget.target;
  j["sampler"] = {{"type", sampler.type},
                  {"startup_trials", sampler.startup_trials},
                  {"seed", sampler.seed},
                  {"candidates", sampler.candidates},
                  {"gamma", sampler.gamma},
                  {"gamma_cap", sampler.gamma_cap},
                  {"constant_liar", sampler.constant_liar},
                  {"multivariate", sampler.multivariate}};
  j["pruner"] = {{"type", pruner.type},
                 {"min_epochs", pruner.min_epochs},
                 {"reduction", pruner.reduction},
                 {"startup_trials", pruner.startup_trials}};
  j["trainer"] = {
      {"type", trainer.type}, {"epoch_time", trainer.epoch_time_s}, {"noise", trainer.noise}};
  if (trainer.type != "torch" && data.train.empty()) j.erase("data");
  j["resources"] = {{"gpus_per_trial", resources.gpus_per_trial},
                    {"max_retries", resources.max_retries},
                    {"heartbeat_timeout", resources.heartbeat_timeout_s}};
  j["enqueue"] = enqueue;
  j["space"] = Json::object();
  for (const auto& p : space.params) j["space"][p.name] = ParamToJson(p);
  j["ensemble"] = {{"candidates", ensemble.candidates},
                   {"method", ensemble.method},
                   {"size", ensemble.size},
                   {"tta", ensemble.tta},
                   {"rounds", ensemble.rounds},
                   {"init", ensemble.init},
                   {"bags", ensemble.bags},
                   {"bag_fraction", ensemble.bag_fraction},
                   {"metric", ensemble.metric},
                   {"top_n", ensemble.top_n},
                   {"include_pruned", ensemble.include_pruned},
                   {"one_per_backbone", ensemble.one_per_backbone},
                   {"seed", ensemble.seed}};
  if (!ensemble.one_per.empty()) j["ensemble"]["one_per"] = ensemble.one_per;
  return j;
}

StudySpec ParseStudy(const Json& document, const std::string& origin, const std::string& base_dir) {
  return ParseStudyImpl(document, origin, base_dir, nullptr, false);
}

StudySpec StudyFromJson(const Json& normalised) {
  StudySpec spec = ParseStudyImpl(normalised, "stored study", "", nullptr, true);
  return spec;
}

StudySpec LoadStudyText(const std::string& text, const std::string& origin,
                        const std::string& base_dir) {
  LineMap lines;
  const Json document = ParseYamlText(text, origin, lines);
  return ParseStudyImpl(document, origin, base_dir, &lines, false);
}

StudySpec LoadStudyFile(const std::string& path) {
  LineMap lines;
  const Json document = ReadYamlDocument(path, lines);
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  absolute = absolute.lexically_normal();
  StudySpec spec = ParseStudyImpl(document, path, absolute.parent_path().string(), &lines, false);
  spec.source_path = absolute.string();
  return spec;
}

}  // namespace ensweep
