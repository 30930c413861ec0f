#include "core/study_checks.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/trial_params.h"

namespace ensweep {
namespace {

// Fails at `path` unless `value` is a valid value of the trial parameter.
void CheckValue(const Checker& c, const TrialParamInfo& info, const Json& value,
                const std::string& path) {
  const std::string expected = CheckTrialParamValue(info, value);
  if (!expected.empty()) {
    c.Fail(path, Describe(value) + " is not a valid value of the torch trainer's parameter '" +
                     info.name + "': expected " + expected);
  }
}

void CheckRange(const Checker& c, const TrialParamInfo& info, const ParamSpec& p,
                const std::string& path) {
  const bool is_int = p.kind == ParamKind::kInt;
  const bool fits =
      info.type == TrialParamType::kNumber || (is_int && info.type == TrialParamType::kInt);
  if (!fits) {
    c.Fail(path, std::string("the torch trainer's parameter '") + info.name + "' takes " +
                     TrialParamDomain(info) + "; a " + ParamKindName(p.kind) +
                     " range cannot give it (use choice: [...] or a constant)");
  }
  const Json low = is_int ? Json(static_cast<int64_t>(p.low)) : Json(p.low);
  const Json high = is_int ? Json(static_cast<int64_t>(p.high)) : Json(p.high);
  CheckValue(c, info, low, path + "[0]");
  CheckValue(c, info, high, path + "[1]");
}

void CheckSpaceParam(const Checker& c, const ParamSpec& p) {
  const std::string path = "space." + p.name;
  const TrialParamInfo* info = FindTrialParam(p.name);
  if (info == nullptr) {
    const std::string closest = ClosestTrialParam(p.name);
    c.Fail(path, "space key '" + p.name + "' is not a parameter of the torch trainer" +
                     (closest.empty() ? "" : " (did you mean '" + closest + "'?)") +
                     "; studies/README.md lists them");
  }
  switch (p.kind) {
    case ParamKind::kConstant:
      CheckValue(c, *info, p.constant, path);
      break;
    case ParamKind::kChoice:
      for (size_t i = 0; i < p.choices.size(); ++i) {
        CheckValue(c, *info, p.choices[i], path + ".choice[" + std::to_string(i) + "]");
      }
      break;
    case ParamKind::kUniform:
    case ParamKind::kLogUniform:
    case ParamKind::kInt:
      CheckRange(c, *info, p, JoinPath(path, ParamKindName(p.kind)));
      break;
  }
}

// The parameters a built-in objective reads, or nullptr for one that reads any.
const std::vector<std::string>* ObjectiveParams(TrainerType type) {
  static const std::vector<std::string> branin = {"x1", "x2"};
  static const std::vector<std::string> hartmann6 = {"x1", "x2", "x3", "x4", "x5", "x6"};
  if (type == TrainerType::kBranin) return &branin;
  if (type == TrainerType::kHartmann6) return &hartmann6;
  return nullptr;
}

// Warns for each of `keys` given in document[block] that `used` says the method does not read.
void WarnKeys(const Checker& c, const Json& document, const std::string& block,
              const std::vector<std::string>& keys, const std::string& why) {
  if (!document.contains(block) || !document[block].is_object()) return;
  for (const std::string& key : keys) {
    if (document[block].contains(key)) c.Warn(JoinPath(block, key), "has no effect: " + why);
  }
}

void WarnEnsemble(const Checker& c, const Json& document, EnsembleMethod method) {
  const std::string chosen = std::string("ensemble.method is ") + OptionName(method);
  if (method != EnsembleMethod::kUniform) {
    WarnKeys(c, document, "ensemble", {"size"},
             "only the uniform method reads it (" + chosen + ")");
  }
  if (method != EnsembleMethod::kGreedy) {
    WarnKeys(c, document, "ensemble", {"rounds", "init", "bags", "bag_fraction"},
             "only the greedy method reads it (" + chosen + ")");
  }
  if (method != EnsembleMethod::kWeights) {
    WarnKeys(c, document, "ensemble", {"top_n"},
             "only the weights method reads it (" + chosen + ")");
  }
}

void WarnSearch(const Checker& c, const Json& document, const StudySpec& spec) {
  if (spec.sampler.type != SamplerType::kTpe) {
    WarnKeys(
        c, document, "sampler",
        {"startup_trials", "candidates", "gamma", "gamma_cap", "constant_liar", "multivariate"},
        std::string("only the tpe sampler reads it (sampler.type is ") +
            OptionName(spec.sampler.type) + ")");
  }
  const std::string pruner = std::string("pruner.type is ") + OptionName(spec.pruner.type);
  switch (spec.pruner.type) {
    case PrunerType::kNone:
      WarnKeys(c, document, "pruner", {"min_epochs", "reduction", "startup_trials"},
               "nothing is pruned (" + pruner + ")");
      break;
    case PrunerType::kMedian:
      WarnKeys(c, document, "pruner", {"reduction"},
               "only asha and hyperband read it (" + pruner + ")");
      break;
    case PrunerType::kAsha:
    case PrunerType::kHyperband:
      WarnKeys(c, document, "pruner", {"startup_trials"}, "only median reads it (" + pruner + ")");
      break;
  }
}

void WarnTrainer(const Checker& c, const Json& document, const StudySpec& spec) {
  const std::string chosen = std::string("trainer.type is ") + OptionName(spec.trainer.type);
  if (spec.trainer.type != TrainerType::kCurve) {
    WarnKeys(c, document, "trainer", {"noise"},
             "only the curve objective reads it (" + chosen + ")");
  }
  if (spec.trainer.type == TrainerType::kTorch) {
    WarnKeys(c, document, "trainer", {"epoch_time"},
             "only the built-in objectives read it (" + chosen + ")");
  }
  const std::vector<std::string>* reads = ObjectiveParams(spec.trainer.type);
  if (reads == nullptr) return;
  std::string list;
  for (const std::string& name : *reads) list += (list.empty() ? "" : ", ") + name;
  for (const ParamSpec& p : spec.space.params) {
    if (p.name == "slots_per_trial") continue;  // the coordinator reads it
    if (std::find(reads->begin(), reads->end(), p.name) == reads->end()) {
      c.Warn("space." + p.name, std::string("has no effect: the ") + OptionName(spec.trainer.type) +
                                    " objective reads only " + list);
    }
  }
}

// A trial's `epochs` may shorten it, not lengthen it: the coordinator refuses a report past
// budget.epochs, so such a trial could never finish.
void CheckEpochsWithinBudget(const Checker& c, const Json& value, const std::string& path,
                             int budget) {
  if (value.is_number() && value.get<double>() > budget) {
    c.Fail(path, Describe(value) + " epochs is more than budget.epochs (" + std::to_string(budget) +
                     "): a trial may train fewer epochs than the budget, not more; raise "
                     "budget.epochs");
  }
}

void CheckTrialEpochs(const Checker& c, const StudySpec& spec) {
  const int budget = spec.budget.epochs;
  for (const ParamSpec& p : spec.space.params) {
    if (p.name != "epochs") continue;
    const std::string path = "space.epochs";
    if (p.kind == ParamKind::kConstant) CheckEpochsWithinBudget(c, p.constant, path, budget);
    for (size_t i = 0; p.kind == ParamKind::kChoice && i < p.choices.size(); ++i) {
      CheckEpochsWithinBudget(c, p.choices[i], path + ".choice[" + std::to_string(i) + "]", budget);
    }
    if (p.kind == ParamKind::kInt || p.kind == ParamKind::kUniform) {
      CheckEpochsWithinBudget(c, Json(p.high), JoinPath(path, ParamKindName(p.kind)) + "[1]",
                              budget);
    }
  }
  for (size_t i = 0; i < spec.enqueue.size(); ++i) {
    if (spec.enqueue[i].contains("epochs")) {
      CheckEpochsWithinBudget(c, spec.enqueue[i]["epochs"],
                              "enqueue[" + std::to_string(i) + "].epochs", budget);
    }
  }
}

}  // namespace

void CheckTrialParamsForTrainer(const Checker& c, const StudySpec& spec) {
  if (spec.trainer.type != TrainerType::kTorch) {
    // Every trainer accepts slots_per_trial (the coordinator reads it); its values are checked
    // for all of them.
    const TrialParamInfo* slots = FindTrialParam("slots_per_trial");
    if (const ParamSpec* p = spec.space.Find("slots_per_trial")) CheckSpaceParam(c, *p);
    for (size_t i = 0; i < spec.enqueue.size(); ++i) {
      if (!spec.enqueue[i].contains("slots_per_trial")) continue;
      CheckValue(c, *slots, spec.enqueue[i]["slots_per_trial"],
                 "enqueue[" + std::to_string(i) + "].slots_per_trial");
    }
    return;
  }
  for (const ParamSpec& p : spec.space.params) CheckSpaceParam(c, p);
  CheckTrialEpochs(c, spec);
  for (size_t i = 0; i < spec.enqueue.size(); ++i) {
    for (const auto& item : spec.enqueue[i].items()) {
      // Every enqueued key is a space parameter (checked before), hence in the table.
      const TrialParamInfo* info = FindTrialParam(item.key());
      if (info == nullptr) continue;
      CheckValue(c, *info, item.value(), "enqueue[" + std::to_string(i) + "]." + item.key());
    }
  }
}

void WarnIneffectiveKeys(const Checker& c, const Json& document, const StudySpec& spec) {
  WarnEnsemble(c, document, spec.ensemble.method);
  WarnSearch(c, document, spec);
  WarnTrainer(c, document, spec);
}

}  // namespace ensweep
