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
namespace {

// The generator's own limits (datagen/mask_generator.cc checks them again).
constexpr int kMaxPeople = 999999;
constexpr int kMinSide = 16, kMaxSide = 8192;

struct DatagenCommandOptions {
  std::string out;
  DatagenOptions generator;
  std::string size = "384x512";
};

// A fraction in [0, 1).
CLI::Validator FractionBelowOne() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && value >= 0.0 && value < 1.0) return "";
        } catch (const std::exception&) {
        }
        return "must be a fraction in [0, 1), got '" + text + "'";
      },
      "FRACTION in [0, 1)");
}

// Digits only: CLI11 would wrap a negative number around to a huge unsigned seed.
CLI::Validator Uint64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (!text.empty() && text.size() <= 20 &&
            text.find_first_not_of("0123456789") == std::string::npos) {
          try {
            std::stoull(text);
            return "";
          } catch (const std::exception&) {
          }
        }
        return "must be a whole number between 0 and 18446744073709551615, got '" + text + "'";
      },
      "UINT64");
}

// Sets the generator's width and height from --image-size; throws UserError if out of range.
void ParseImageSize(DatagenCommandOptions& o) {
  std::smatch match;
  if (!std::regex_match(o.size, match, std::regex(R"((\d+)x(\d+))"))) {
    throw UserError("--image-size: expected WIDTHxHEIGHT such as 96x128, got '" + o.size + "'");
  }
  // More than 9 digits would overflow an int; any such side is out of range anyway.
  const auto side = [](const std::string& digits) {
    return digits.size() > 9 ? kMaxSide + 1 : std::stoi(digits);
  };
  o.generator.width = side(match[1]);
  o.generator.height = side(match[2]);
  if (o.generator.width < kMinSide || o.generator.width > kMaxSide ||
      o.generator.height < kMinSide || o.generator.height > kMaxSide) {
    throw UserError("--image-size: width and height must each be between " +
                    std::to_string(kMinSide) + " and " + std::to_string(kMaxSide) +
                    " pixels, got '" + o.size + "'");
  }
}

int RunDatagen(DatagenCommandOptions& o) {
  ParseImageSize(o);
  std::error_code error;
  if (std::filesystem::exists(o.out, error) && !std::filesystem::is_directory(o.out, error)) {
    throw UserError("--out: " + o.out + " exists and is not a folder");
  }
  const bool tty = isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  int last_percent = -1;
  const DatagenSummary summary = GenerateMaskDataset(o.out, o.generator, [&](int done, int total) {
    const int percent = total > 0 ? done * 100 / total : 100;
    if (percent == last_percent || (!tty && percent % 25 != 0)) return;
    last_percent = percent;
    std::cerr << (tty ? "\r" : "") << "datagen: " << done << "/" << total << " persons (" << percent
              << "%)" << (tty ? "" : "\n") << std::flush;
  });
  if (tty) std::cerr << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << o.out << ": " << summary.train_people << " training persons ("
            << summary.train_images << " images), " << summary.eval_images << " eval images, "
            << summary.noisy_labels << " deliberately wrong labels, " << o.generator.width << "x"
            << o.generator.height << ", seed " << o.generator.seed << ", in "
            << FormatSeconds(seconds) << "\n";
  return 0;
}

}  // namespace

Command AddDatagenCommand(CLI::App& root) {
  auto o = std::make_shared<DatagenCommandOptions>();
  CLI::App* app =
      root.add_subcommand("datagen", "Generate synthetic data in the competition layout");
  app->footer(
      "Generate synthetic face-mask data in the competition layout: train/ (train.csv, 7 photos a\n"
      "person), eval/ (info.csv, images), eval_labels.csv (hidden eval labels, for `ensweep "
      "score`)\n"
      "and train_label_noise.csv (deliberately wrong training labels). Same seed, same bytes.");
  app->add_option("-o,--out", o->out, "Output folder")->required();
  app->add_option("--people", o->generator.people,
                  "Training persons, 7 photos each, 1 to 999999 (default 200)")
      ->check(Between(1, kMaxPeople));
  app->add_option("--eval-people", o->generator.eval_people,
                  "Eval persons, 1 to 999999 (default: half of --people, at least 1)")
      ->check(Between(1, kMaxPeople));
  app->add_option("--image-size", o->size,
                  "WIDTHxHEIGHT of the photos, each 16 to 8192 (default 384x512, as in the "
                  "competition)");
  app->add_option("--label-noise", o->generator.label_noise,
                  "Fraction of training persons with a wrong gender or age label, in [0, 1) "
                  "(default 0)")
      ->check(FractionBelowOne());
  app->add_option("--seed", o->generator.seed, "Random seed, a whole number >= 0 (default 0)")
      ->check(Uint64());
  return {app, [o] { return RunDatagen(*o); }};
}

}  // namespace ensweep
