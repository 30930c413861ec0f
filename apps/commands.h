// The `ensweep` subcommands. Each Add*Command registers its options on the root app and returns
// the action to run if that subcommand was chosen. Actions return the exit status (0 ok, 2 bad
// input, 1 internal failure) and may throw UserError, which main() turns into status 2.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace ensweep {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Option check for whole numbers of at least `minimum`, with a plain message
// ("--trials: must be a whole number >= 1, got '0'").
inline CLI::Validator AtLeast(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        try {
          size_t used = 0;
          if (std::stoll(text, &used) >= minimum && used == text.size()) return "";
        } catch (const std::exception&) {
        }
        return "must be a whole number >= " + std::to_string(minimum) + ", got '" + text + "'";
      },
      "INT>=" + std::to_string(minimum));
}

// Option check for whole numbers in [minimum, maximum], with a plain message
// ("--rounds: must be a whole number between 1 and 100000, got '0'").
inline CLI::Validator Between(long long minimum, long long maximum) {
  return CLI::Validator(
      [minimum, maximum](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long value = std::stoll(text, &used);
          if (used == text.size() && value >= minimum && value <= maximum) return "";
        } catch (const std::exception&) {
        }
        return "must be a whole number between " + std::to_string(minimum) + " and " +
               std::to_string(maximum) + ", got '" + text + "'";
      },
      "INT in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]");
}

Command AddRunCommand(CLI::App& root);
Command AddWorkerCommand(CLI::App& root);
Command AddTopCommand(CLI::App& root);
Command AddShowCommand(CLI::App& root);
Command AddStudiesCommand(CLI::App& root);
Command AddEnsembleCommand(CLI::App& root);
Command AddScoreCommand(CLI::App& root);
Command AddDatagenCommand(CLI::App& root);
Command AddAuditCommand(CLI::App& root);
Command AddImportanceCommand(CLI::App& root);
Command AddHistoryCommand(CLI::App& root);
Command AddServeCommand(CLI::App& root);
Command AddReportCommand(CLI::App& root);
Command AddPredictCommand(CLI::App& root);
Command AddExportCommand(CLI::App& root);

}  // namespace ensweep
