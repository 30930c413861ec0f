#include "core/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "core/error.h"
#include "core/study_document.h"
#include "core/study_space.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  fs::path p(path);
  if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

}  // namespace

double ParseDurationSeconds(const Json& value, const std::string& where) {
  if (value.is_number()) {
    if (value.get<double>() < 0) throw UserError(where + ": expected a duration >= 0");
    return value.get<double>();
  }
  static const std::regex pattern(
      R"(^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$)");
  std::smatch match;
  const std::string text = value.is_string() ? value.get<std::string>() : "";
  if (text.empty() || !std::regex_match(text, match, pattern) ||
      (!match[1].matched && !match[2].matched && !match[3].matched)) {
    throw UserError(where + ": expected a duration like 90s, 30m, 2h or 1h30m, got " +
                    Describe(value));
  }
  double seconds = 0;
  if (match[1].matched) seconds += 3600 * std::stod(match[1]);
  if (match[2].matched) seconds += 60 * std::stod(match[2]);
  if (match[3].matched) seconds += std::stod(match[3]);
  return seconds;
}

namespace {

StudySpec ParseStudyImpl(const Json& doc, const std::string& origin, const std::string& base_dir,
                         const LineMap* lines) {
  const Checker c(origin, lines);
  if (!doc.is_object()) c.Fail("", "expected a mapping at the top level of the study file");
  c.OnlyKeys(doc, "",
             {"study", "storage", "artifacts", "data", "objective", "budget", "sampler", "pruner",
              "resources", "enqueue", "space", "ensemble", "trainer"});
  StudySpec s;
  if (!doc.contains("study")) c.Fail("study", "missing; expected the study's name");
  s.name = c.String(doc["study"], "study");
  if (!std::regex_match(s.name, std::regex(R"([A-Za-z0-9][A-Za-z0-9_.-]*)"))) {
    c.Fail("study",
           "expected a name of letters, digits, '_', '-' or '.', got " + Describe(doc["study"]));
  }
  s.storage = ResolvePath(
      base_dir, doc.contains("storage") ? c.String(doc["storage"], "storage") : "ensweep.sqlite");
  s.artifacts =
      ResolvePath(base_dir, doc.contains("artifacts") ? c.String(doc["artifacts"], "artifacts")
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
        c.Fail("trainer.epoch_time", "expected a duration like 0.01 (seconds), 2s or 1m");
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
    if ((csv && fs::is_directory(path)) || (!csv && fs::is_regular_file(path))) {
      c.Fail(key, path + " is a " + (csv ? "folder" : "file") + " but data.format " +
                      s.data.format + " expects " + expected);
    }
  };
  if (!data.contains("train")) c.Fail("data.train", "missing; expected " + expected_train);
  s.data.train = ResolvePath(base_dir, c.String(data["train"], "data.train"));
  check_kind("data.train", s.data.train, expected_train);
  if (data.contains("eval") && !data["eval"].is_null()) {
    s.data.eval = ResolvePath(base_dir, c.String(data["eval"], "data.eval"));
    check_kind("data.eval", s.data.eval,
               csv ? "a CSV file with a path column"
                   : (s.data.format == "imagefolder" ? "a folder of eval images"
                                                     : "the eval folder (info.csv and images/)"));
  }
  if (data.contains("image_size")) {
    const Json& size = data["image_size"];
    if (!size.is_array() || size.size() != 2) c.Fail("data.image_size", "expected [width, height]");
    s.data.width = static_cast<int>(c.Integer(size[0], "data.image_size[0]", 8));
    s.data.height = static_cast<int>(c.Integer(size[1], "data.image_size[1]", 8));
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
      s.data.split.folds = static_cast<int>(c.Integer(split["folds"], "data.split.folds", 1));
    if (split.contains("seed"))
      s.data.split.seed = static_cast<uint64_t>(c.Integer(split["seed"], "data.split.seed", 0));
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
    if (b.contains("trials")) s.budget.trials = c.Integer(b["trials"], "budget.trials", 1);
    if (b.contains("epochs"))
      s.budget.epochs = static_cast<int>(c.Integer(b["epochs"], "budget.epochs", 1));
    if (b.contains("time") && !b["time"].is_null()) {
      try {
        s.budget.time_seconds = ParseDurationSeconds(b["time"], "budget.time");
      } catch (const UserError&) {
        c.Fail("budget.time",
               "expected a duration like 90s, 30m, 2h or 1h30m, got " + Describe(b["time"]));
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
      s.sampler.candidates = static_cast<int>(c.Integer(p["candidates"], "sampler.candidates", 1));
    }
    if (p.contains("gamma")) {
      s.sampler.gamma = c.Number(p["gamma"], "sampler.gamma");
      if (s.sampler.gamma <= 0 || s.sampler.gamma >= 1) {
        c.Fail("sampler.gamma", "expected a fraction strictly between 0 and 1");
      }
    }
    if (p.contains("gamma_cap")) {
      s.sampler.gamma_cap = static_cast<int>(c.Integer(p["gamma_cap"], "sampler.gamma_cap", 1));
    }
    if (p.contains("constant_liar")) {
      s.sampler.constant_liar = c.Bool(p["constant_liar"], "sampler.constant_liar");
    }
    if (p.contains("multivariate")) {
      s.sampler.multivariate = c.Bool(p["multivariate"], "sampler.multivariate");
    }
    if (p.contains("startup_trials"))
      s.sampler.startup_trials =
          static_cast<int>(c.Integer(p["startup_trials"], "sampler.startup_trials", 0));
    if (p.contains("seed"))
      s.sampler.seed = static_cast<uint64_t>(c.Integer(p["seed"], "sampler.seed", 0));
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
          static_cast<int>(c.Integer(p["startup_trials"], "pruner.startup_trials", 0));
    }
    if (p.contains("min_epochs"))
      s.pruner.min_epochs = static_cast<int>(c.Integer(p["min_epochs"], "pruner.min_epochs", 1));
    if (p.contains("reduction"))
      s.pruner.reduction = static_cast<int>(c.Integer(p["reduction"], "pruner.reduction", 2));
  }
  if (doc.contains("resources")) {
    const Json& r = c.Object(doc, "resources", "resources");
    c.OnlyKeys(r, "resources", {"gpus_per_trial", "max_retries", "heartbeat_timeout"});
    if (r.contains("gpus_per_trial")) {
      s.resources.gpus_per_trial =
          static_cast<int>(c.Integer(r["gpus_per_trial"], "resources.gpus_per_trial", 1));
      if (s.resources.gpus_per_trial != 1) {
        c.Fail("resources.gpus_per_trial",
               "multi-GPU trials are not available in this version; use 1");
      }
    }
    if (r.contains("max_retries"))
      s.resources.max_retries =
          static_cast<int>(c.Integer(r["max_retries"], "resources.max_retries", 0));
    if (r.contains("heartbeat_timeout")) {
      try {
        s.resources.heartbeat_timeout_s =
            ParseDurationSeconds(r["heartbeat_timeout"], "resources.heartbeat_timeout");
      } catch (const UserError&) {
        c.Fail("resources.heartbeat_timeout", "expected a duration like 90s or 5m");
      }
      if (s.resources.heartbeat_timeout_s < 1)
        c.Fail("resources.heartbeat_timeout", "expected at least 1s");
    }
  }
  if (doc.contains("ensemble")) {
    const Json& e = c.Object(doc, "ensemble", "ensemble");
    c.OnlyKeys(e, "ensemble",
               {"candidates", "method", "size", "tta", "rounds", "init", "bags", "bag_fraction",
                "metric", "top_n", "include_pruned", "one_per_backbone", "one_per", "seed"});
    EnsembleSpec& en = s.ensemble;
    if (e.contains("candidates"))
      en.candidates = static_cast<int>(c.Integer(e["candidates"], "ensemble.candidates", 1));
    if (e.contains("method"))
      en.method = c.Enum(e["method"], "ensemble.method", {"uniform", "greedy", "weights"});
    if (e.contains("size")) en.size = static_cast<int>(c.Integer(e["size"], "ensemble.size", 1));
    if (e.contains("tta")) en.tta = c.Enum(e["tta"], "ensemble.tta", {"none", "hflip"});
    if (e.contains("rounds"))
      en.rounds = static_cast<int>(c.Integer(e["rounds"], "ensemble.rounds", 1));
    if (e.contains("init")) en.init = static_cast<int>(c.Integer(e["init"], "ensemble.init", 1));
    if (e.contains("bags")) en.bags = static_cast<int>(c.Integer(e["bags"], "ensemble.bags", 1));
    if (e.contains("bag_fraction")) {
      en.bag_fraction = c.Number(e["bag_fraction"], "ensemble.bag_fraction");
      if (en.bag_fraction <= 0 || en.bag_fraction > 1)
        c.Fail("ensemble.bag_fraction", "expected a number in (0, 1]");
    }
    if (e.contains("metric"))
      en.metric = c.Enum(e["metric"], "ensemble.metric", {"macro_f1", "log_loss"});
    if (e.contains("top_n"))
      en.top_n = static_cast<int>(c.Integer(e["top_n"], "ensemble.top_n", 0));
    if (e.contains("include_pruned"))
      en.include_pruned = c.Bool(e["include_pruned"], "ensemble.include_pruned");
    if (e.contains("one_per_backbone"))
      en.one_per_backbone = c.Bool(e["one_per_backbone"], "ensemble.one_per_backbone");
    if (e.contains("one_per")) {
      const Json& keys = e["one_per"];
      if (!keys.is_array() || keys.empty()) {
        c.Fail("ensemble.one_per",
               "expected a non-empty list of parameter names, got " + Describe(keys));
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
      en.seed = static_cast<uint64_t>(c.Integer(e["seed"], "ensemble.seed", 0));
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
  return ParseStudyImpl(document, origin, base_dir, nullptr);
}

StudySpec StudyFromJson(const Json& normalised) {
  StudySpec spec = ParseStudyImpl(normalised, "stored study", "", nullptr);
  return spec;
}

StudySpec LoadStudyFile(const std::string& path) {
  LineMap lines;
  const Json document = ReadYamlDocument(path, lines);
  const fs::path absolute = fs::absolute(path).lexically_normal();
  StudySpec spec = ParseStudyImpl(document, path, absolute.parent_path().string(), &lines);
  spec.source_path = absolute.string();
  return spec;
}

}  // namespace ensweep
