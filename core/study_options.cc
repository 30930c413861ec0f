#include "core/study_options.h"

namespace ensweep {

const NameTable<TrainerType>& OptionTable(TrainerType) {
  static const NameTable<TrainerType> table = {{TrainerType::kTorch, "torch"},
                                               {TrainerType::kBranin, "branin"},
                                               {TrainerType::kHartmann6, "hartmann6"},
                                               {TrainerType::kCurve, "curve"}};
  return table;
}

const NameTable<DataFormat>& OptionTable(DataFormat) {
  static const NameTable<DataFormat> table = {{DataFormat::kMask, "mask"},
                                              {DataFormat::kImageFolder, "imagefolder"},
                                              {DataFormat::kCsv, "csv"}};
  return table;
}

const NameTable<SplitBy>& OptionTable(SplitBy) {
  static const NameTable<SplitBy> table = {{SplitBy::kPerson, "person"},
                                           {SplitBy::kImage, "image"}};
  return table;
}

const NameTable<SamplerType>& OptionTable(SamplerType) {
  static const NameTable<SamplerType> table = {
      {SamplerType::kRandom, "random"}, {SamplerType::kGrid, "grid"}, {SamplerType::kTpe, "tpe"}};
  return table;
}

const NameTable<PrunerType>& OptionTable(PrunerType) {
  static const NameTable<PrunerType> table = {{PrunerType::kNone, "none"},
                                              {PrunerType::kMedian, "median"},
                                              {PrunerType::kAsha, "asha"},
                                              {PrunerType::kHyperband, "hyperband"}};
  return table;
}

const NameTable<EnsembleMethod>& OptionTable(EnsembleMethod) {
  static const NameTable<EnsembleMethod> table = {{EnsembleMethod::kUniform, "uniform"},
                                                  {EnsembleMethod::kGreedy, "greedy"},
                                                  {EnsembleMethod::kWeights, "weights"}};
  return table;
}

const NameTable<EnsembleTta>& OptionTable(EnsembleTta) {
  static const NameTable<EnsembleTta> table = {{EnsembleTta::kNone, "none"},
                                               {EnsembleTta::kHflip, "hflip"}};
  return table;
}

const NameTable<EnsembleMetric>& OptionTable(EnsembleMetric) {
  static const NameTable<EnsembleMetric> table = {{EnsembleMetric::kMacroF1, "macro_f1"},
                                                  {EnsembleMetric::kLogLoss, "log_loss"}};
  return table;
}

}  // namespace ensweep
