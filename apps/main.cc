// ensweep: hyperparameter search and ensembling for image classifiers.
#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  using namespace ensweep;
  CLI::App root{
      "ensweep: hyperparameter sweeps of image classifiers across workers, recorded in SQLite,\n"
      "ranked on a leaderboard and ensembled into a competition submission.\n\n"
      "Typical use:\n"
      "  ensweep datagen --out data/mask --people 200 --image-size 96x128\n"
      "  ensweep run studies/quickstart.yaml --workers 2\n"
      "  ensweep top studies/quickstart.yaml\n"
      "  ensweep ensemble studies/quickstart.yaml\n"
      "  ensweep serve studies/quickstart.yaml\n\n"
      "Exit status: 0 success, 2 bad input (the message names the file, key or line), 1 internal\n"
      "failure, 130 a run stopped by Ctrl-C or SIGTERM (resume it by running it again).",
      "ensweep"};
  root.require_subcommand(1);
  root.set_version_flag("--version", "ensweep 0.1.0");
  std::vector<Command> commands = {
      AddRunCommand(root),   AddWorkerCommand(root),  AddTopCommand(root),
      AddShowCommand(root),  AddStudiesCommand(root), AddEnsembleCommand(root),
      AddScoreCommand(root), AddDatagenCommand(root),
      AddImportanceCommand(root), AddHistoryCommand(root),
      AddServeCommand(root), AddReportCommand(root), AddAuditCommand(root),
      AddPredictCommand(root), AddExportCommand(root),
  };
  // A first argument that is neither an option nor a subcommand is a mistyped subcommand; CLI11
  // alone would only say that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const auto& command : commands) {
      known = known || command.app->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command.app->get_name();
    }
    if (!known) {
      std::cerr << "unknown subcommand '" << argv[1] << "'; expected one of: " << names
                << " (ensweep --help)" << std::endl;
      return kExitBadInput;
    }
  }
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = root.exit(e);
    return status == 0 ? 0 : kExitBadInput;
  }
  try {
    for (const auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const UserError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << std::endl;
    return kExitInternal;
  }
  return kExitInternal;
}
