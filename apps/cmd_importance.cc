// `ensweep importance`: how much of the objective's variation each parameter explains (fANOVA on
// a random forest, analysis/importance.h). Read-only, safe while a run writes.
#include <iostream>
#include <limits>

#include "analysis/importance.h"
#include "apps/commands.h"
#include "apps/leaderboard.h"
#include "apps/study_locator.h"
#include "apps/table.h"
#include "core/error.h"

namespace ensweep {
namespace {

constexpr int kBarWidth = 40;

// "########...": `share` of kBarWidth, at least one mark for a share above zero.
std::string Bar(double share) {
  int marks = static_cast<int>(share * kBarWidth + 0.5);
  if (share > 0 && marks == 0) marks = 1;
  return std::string(static_cast<size_t>(std::max(0, marks)), '#');
}

void PrintImportanceTable(std::ostream& out, const StudyRecord& study,
                          const ImportanceResult& result) {
  out << "study " << study.name << ": parameter importance by fANOVA (random forest of "
      << kImportanceTrees << " trees, seed " << result.seed << ") on "
      << CountOf(result.trials_used, "complete trial") << "; objective " << study.metric << " ("
      << (study.maximize ? "maximize" : "minimize") << ")\n";
  if (result.importances.empty()) {
    out << (result.trials_used < 2 ? "not enough complete trials yet (at least 2)"
                                   : "no parameter explains any variation of the objective")
        << "\n";
    return;
  }
  const double top = result.importances.front().importance;
  TextTable table({"param", "importance", ""});
  for (const ParamImportance& p : result.importances)
    table.AddRow({p.param, FormatFixed(p.importance, 4), Bar(top > 0 ? p.importance / top : 0)});
  out << table.Render();
}

}  // namespace

Command AddImportanceCommand(CLI::App& root) {
  struct Options {
    StudyLocator locator;
    std::string format = "table";
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "importance", "Parameter importance: the share of the objective's variance each explains");
  app->footer(
      "fANOVA on a random forest fitted to the COMPLETE trials, as Optuna's default importance\n"
      "evaluator (64 trees; log-scale parameters in log space, choices one-hot; a conditional\n"
      "parameter is assessed on the trials that have it). Beyond 5,000 trials a seeded random\n"
      "subset of 5,000 is used. Importances sum to 1. Safe while a run writes.\n\n"
      "Examples:\n"
      "  ensweep importance studies/quickstart.yaml\n"
      "  ensweep importance --db runs/quickstart/ensweep.sqlite --study quickstart -f json");
  o->locator.AddOptions(app);
  app->add_option("-f,--format", o->format, "table or json (default table)")
      ->check(CLI::IsMember({"table", "json"}));
  app->add_option("--seed", o->seed, "Seed of the forest and the subsampling (default 0)");
  return {app, [o] {
            const OutputFormat format = ParseOutputFormat(o->format);
            auto found = o->locator.Open();
            const StudySpec spec = StudyFromJson(found.study.spec);
            const auto trials = found.store->Trials(found.study.id);
            const ImportanceResult result = ComputeImportance(spec, trials, o->seed);
            if (format == OutputFormat::kJson) {
              nlohmann::json j = ImportanceToJson(result);
              j["study"] = found.study.name;
              j["metric"] = found.study.metric;
              j["direction"] = found.study.maximize ? "maximize" : "minimize";
              std::cout << j.dump(2) << "\n";
            } else {
              PrintImportanceTable(std::cout, found.study, result);
            }
            return 0;
          }};
}

}  // namespace ensweep
