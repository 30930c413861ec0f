// The study file's option values (`pruner.type: asha`, `data.format: csv`, ...) as enum classes,
// each with one name table: the only place its values are spelled. The loader, ToJson, the
// command line's option checks (OptionNames) and messages all read the same table.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ensweep {

// What trains a trial: the LibTorch trainer (worker/) or a built-in objective (objectives/).
enum class TrainerType { kTorch, kBranin, kHartmann6, kCurve };
enum class DataFormat { kMask, kImageFolder, kCsv };
enum class SplitBy { kPerson, kImage };
enum class SamplerType { kRandom, kGrid, kTpe };
enum class PrunerType { kNone, kMedian, kAsha, kHyperband };
enum class EnsembleMethod { kUniform, kGreedy, kWeights };
enum class EnsembleTta { kNone, kHflip };
enum class EnsembleMetric { kMacroF1, kLogLoss };

template <typename E>
using NameTable = std::vector<std::pair<E, const char*>>;

// The name tables, in the order messages list them. The argument only picks the table.
const NameTable<TrainerType>& OptionTable(TrainerType);
const NameTable<DataFormat>& OptionTable(DataFormat);
const NameTable<SplitBy>& OptionTable(SplitBy);
const NameTable<SamplerType>& OptionTable(SamplerType);
const NameTable<PrunerType>& OptionTable(PrunerType);
const NameTable<EnsembleMethod>& OptionTable(EnsembleMethod);
const NameTable<EnsembleTta>& OptionTable(EnsembleTta);
const NameTable<EnsembleMetric>& OptionTable(EnsembleMetric);

// The name of `value` as the study file writes it ("asha").
template <typename E>
const char* OptionName(E value) {
  for (const auto& [option, name] : OptionTable(E{})) {
    if (option == value) return name;
  }
  return "?";
}

// The value named `name`, or nullopt.
template <typename E>
std::optional<E> ParseOption(const std::string& name) {
  for (const auto& [option, text] : OptionTable(E{})) {
    if (name == text) return option;
  }
  return std::nullopt;
}

// Every name, in table order (for CLI::IsMember and messages).
template <typename E>
std::vector<std::string> OptionNames() {
  std::vector<std::string> names;
  for (const auto& entry : OptionTable(E{})) names.push_back(entry.second);
  return names;
}

}  // namespace ensweep
