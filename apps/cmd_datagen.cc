// `ensweep datagen`: synthetic data in the competition's layout.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <regex>

#include "apps/commands.h"
#include "apps/table.h"
#include "core/error.h"
#include "datagen/mask_generator.h"

namespace ensweep {

Command AddDatagenCommand(CLI::App& root) {
  struct Options {
    std::string out;
    DatagenOptions generator;
    std::string size = "384x512";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("datagen", "Generate synthetic data in the competition layout");
  app->footer(
      "Generate synthetic face-mask data in the competition layout: train/ (train.csv, 7 photos a\n"
      "person), eval/ (info.csv, images), eval_labels.csv (hidden eval labels, for `ensweep "
      "score`)\n"
      "and train_label_noise.csv (deliberately wrong training labels). Same seed, same bytes.");
  app->add_option("-o,--out", o->out, "Output folder")->required();
  app->add_option("--people", o->generator.people, "Training persons, 7 photos each (default 200)");
  app->add_option("--eval-people", o->generator.eval_people,
                  "Eval persons (default: half of --people)");
  app->add_option("--image-size", o->size,
                  "WIDTHxHEIGHT of the photos (default 384x512, as in the competition)");
  app->add_option("--label-noise", o->generator.label_noise,
                  "Fraction of training persons with a wrong gender or age label (default 0)");
  app->add_option("--seed", o->generator.seed, "Random seed (default 0)");
  return {app, [o] {
            std::smatch match;
            if (!std::regex_match(o->size, match, std::regex(R"((\d+)x(\d+))"))) {
              throw UserError("--image-size: expected WIDTHxHEIGHT such as 96x128, got '" +
                              o->size + "'");
            }
            std::error_code error;
            if (std::filesystem::exists(o->out, error) &&
                !std::filesystem::is_directory(o->out, error)) {
              throw UserError("--out: " + o->out + " exists and is not a folder");
            }
            o->generator.width = std::stoi(match[1]);
            o->generator.height = std::stoi(match[2]);
            const bool tty = isatty(STDERR_FILENO);
            const auto start = std::chrono::steady_clock::now();
            int last_percent = -1;
            const DatagenSummary summary =
                GenerateMaskDataset(o->out, o->generator, [&](int done, int total) {
                  const int percent = total > 0 ? done * 100 / total : 100;
                  if (percent == last_percent || (!tty && percent % 25 != 0)) return;
                  last_percent = percent;
                  std::cerr << (tty ? "\r" : "") << "datagen: " << done << "/" << total
                            << " persons (" << percent << "%)" << (tty ? "" : "\n") << std::flush;
                });
            if (tty) std::cerr << "\n";
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::cout << "wrote " << o->out << ": " << summary.train_people << " training persons ("
                      << summary.train_images << " images), " << summary.eval_images
                      << " eval images, " << summary.noisy_labels << " deliberately wrong labels, "
                      << o->generator.width << "x" << o->generator.height << ", seed "
                      << o->generator.seed << ", in " << FormatSeconds(seconds) << "\n";
            return 0;
          }};
}

}  // namespace ensweep
