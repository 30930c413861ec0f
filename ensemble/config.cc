#include "ensemble/config.h"

#include <algorithm>

#include "core/error.h"
#include "core/study_options.h"
#include "ensemble/candidate_pool.h"

namespace ensweep {
namespace {

// "backbone,head" -> {backbone, head}, without repeats.
std::vector<std::string> ParseOnePer(const std::string& text) {
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string key = text.substr(start, comma - start);
    if (key.empty()) throw UserError("--one-per: expected parameter names, e.g. backbone,head");
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return keys;
}

// `text` as one of E's names; throws UserError naming `option` and the names otherwise.
template <typename E>
E Parsed(const std::string& text, const std::string& option) {
  if (const auto value = ParseOption<E>(text)) return *value;
  std::string names;
  for (const auto& name : OptionNames<E>()) names += (names.empty() ? "" : ", ") + name;
  throw UserError(option + ": expected one of " + names + ", got '" + text + "'");
}

}  // namespace

EnsembleSpec ResolveEnsembleSpec(EnsembleSpec e, const EnsembleRequest& o) {
  if (!o.method.empty()) e.method = Parsed<EnsembleMethod>(o.method, "--method");
  if (!o.metric.empty()) e.metric = Parsed<EnsembleMetric>(o.metric, "--metric");
  if (o.size > 0) e.size = o.size;
  if (o.candidates > 0) e.candidates = o.candidates;
  if (o.rounds > 0) e.rounds = o.rounds;
  if (o.init > 0) e.init = o.init;
  if (o.bags > 0) e.bags = o.bags;
  if (o.bag_fraction > 0) e.bag_fraction = o.bag_fraction;
  if (o.top_n >= 0) e.top_n = o.top_n;
  if (o.seed >= 0) e.seed = static_cast<uint64_t>(o.seed);
  e.include_pruned = e.include_pruned || o.include_pruned;
  e.one_per_backbone = e.one_per_backbone || o.one_per_backbone;
  if (!o.one_per.empty()) e.one_per = ParseOnePer(o.one_per);
  if (!o.tta.empty()) e.tta = Parsed<EnsembleTta>(o.tta, "--tta");
  if (e.bag_fraction <= 0 || e.bag_fraction > 1) throw UserError("--bag-fraction: expected (0, 1]");
  return e;
}

SelectionOptions SelectionFor(const EnsembleSpec& e, int threads) {
  SelectionOptions s;
  s.method = OptionName(e.method);
  s.size = e.size;
  s.greedy.rounds = e.rounds;
  s.greedy.init_size = e.init;
  s.greedy.bags = e.bags;
  s.greedy.bag_fraction = e.bag_fraction;
  s.greedy.metric =
      e.metric == EnsembleMetric::kLogLoss ? SelectionMetric::kLogLoss : SelectionMetric::kMacroF1;
  s.greedy.seed = e.seed;
  s.greedy.threads = threads;
  s.weights.max_members = e.top_n;
  return s;
}

nlohmann::json SettingsJson(const EnsembleSpec& e) {
  nlohmann::json j = {{"method", OptionName(e.method)},
                      {"candidates", e.candidates},
                      {"metric", OptionName(e.metric)},
                      {"include_pruned", e.include_pruned},
                      {"one_per", FamilyKeys(e)},
                      {"tta", OptionName(e.tta)},
                      {"seed", e.seed}};
  if (e.method == EnsembleMethod::kUniform) j["size"] = e.size;
  if (e.method == EnsembleMethod::kGreedy) {
    j.update({{"rounds", e.rounds},
              {"init", e.init},
              {"bags", e.bags},
              {"bag_fraction", e.bag_fraction}});
  }
  if (e.method == EnsembleMethod::kWeights) j["top_n"] = e.top_n;
  return j;
}

}  // namespace ensweep
