// `ensweep predict`: a recorded ensemble (or one trial) applied to new images, written as a
// submission like `ensweep ensemble` writes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "apps/commands.h"
#include "apps/inference_job.h"
#include "apps/table.h"
#include "apps/torch_plugin.h"
#include "core/error.h"
#include "core/listing.h"
#include "core/npy.h"
#include "ensemble/blend.h"
#include "ensemble/submission.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

struct PredictOptions {
  StudyLocator locator;
  ModelChoice model;
  std::string data, out, format = "csv", device = "auto", save_inputs;
  int batch_size = 0;
  int threads = 0;
};

// "images done / total, rate" on stderr: one line rewritten on a terminal, a line per update
// otherwise.
std::function<void(int64_t, int64_t)> ProgressPrinter() {
  const auto start = std::chrono::steady_clock::now();
  const bool terminal = isatty(STDERR_FILENO) != 0;
  return [start, terminal](int64_t done, int64_t total) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << (terminal ? "\r" : "") << "predict: " << done << " / " << total << " images ("
              << FormatFixed(static_cast<double>(done) / std::max(seconds, 1e-9), 1) << " images/s)"
              << (terminal && done < total ? "" : "\n") << std::flush;
  };
}

int RunPredict(const PredictOptions& o) {
  OpenedModel opened = OpenModel(o.locator, o.model);
  const AppliedModel& model = opened.model;
  DataSpec data = opened.spec.data;
  if (!fs::exists(o.data)) throw UserError("--data: " + o.data + " does not exist");
  data.eval = fs::absolute(o.data).lexically_normal().string();
  const std::vector<EvalImage> images = ListEvalImages(data);
  if (images.empty()) throw UserError("--data: " + data.eval + " holds no images");
  const SubmissionTarget target = SubmissionTargetFor(data);

  InferenceJob& job = opened.job;
  for (const EvalImage& image : images) job.images.push_back(image.path);
  job.batch_size = o.batch_size;
  job.threads = o.threads > 0 ? o.threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  job.device = o.device;
  job.save_inputs = o.save_inputs;
  job.progress = ProgressPrinter();
  std::cerr << "predict: " << model.what << " of study " << opened.found.study.name << ", "
            << model.members.size() << (model.members.size() == 1 ? " model" : " members") << ", "
            << images.size() << " images in " << data.eval << " (" << job.threads << " threads)"
            << std::endl;

  const std::vector<Matrix> probs = PredictWithTorchPlugin(job);
  std::vector<const Matrix*> matrices;
  std::vector<double> weights;
  for (size_t m = 0; m < probs.size(); ++m) {
    matrices.push_back(&probs[m]);
    weights.push_back(model.members[m].weight);
  }
  const Matrix blended = WeightedAverage(matrices, weights);
  WriteSubmission(target, blended, o.out);
  std::cout << "wrote " << fs::absolute(o.out).string() << " (" << blended.rows << " rows)\n";
  if (o.format == "probs") {
    const std::string npy = fs::path(o.out).replace_extension(".npy").string();
    WriteNpy(npy, blended);
    std::cout << "wrote " << fs::absolute(npy).string() << " (" << blended.rows << " x "
              << blended.cols << " float32 probabilities)\n";
  }
  return 0;
}

}  // namespace

Command AddPredictCommand(CLI::App& root) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* app = root.add_subcommand(
      "predict", "Apply a recorded ensemble (or one trial) to new images and write a submission");
  o->locator.AddOptions(app);
  o->model.AddOptions(app);
  app->add_option("--data", o->data,
                  "The images, laid out as the study's data.eval: a folder with info.csv and "
                  "images/ (mask), a folder of images (imagefolder) or a CSV with a path column "
                  "(csv)")
      ->required();
  app->add_option("-o,--out", o->out, "The submission to write (CSV)")->required();
  app->add_option("--format", o->format,
                  "csv, or probs: also the blended probabilities as <out stem>.npy")
      ->check(CLI::IsMember({"csv", "probs"}));
  app->add_option("--batch-size", o->batch_size,
                  "Images per forward pass (default: each trial's, at least 64)")
      ->check(AtLeast(1));
  app->add_option("--threads", o->threads,
                  "LibTorch and decoding threads (default: one per hardware thread)")
      ->check(AtLeast(1));
  app->add_option("--device", o->device, "auto (a GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app->add_option("--save-inputs", o->save_inputs,
                  "Also write the decoded images (the models' input at the study's image size) "
                  "as an (N, height, width, 3) uint8 .npy, e.g. to check an exported module");
  app->footer(
      "Each member's checkpoints are loaded, its model rebuilt from its parameters and run on\n"
      "the images as its trial predicted its eval images (k folds averaged; hflip when the trial\n"
      "or the ensemble used it), and the members blended with the ensemble's weights. On the\n"
      "study's own eval data this reproduces the ensemble's eval predictions. The study's\n"
      "training data must still be listable (it gives the class names). Exit status 2 for an\n"
      "unknown ensemble or trial, a deleted checkpoint or an unreadable image.");
  return {app, [o] { return RunPredict(*o); }};
}

}  // namespace ensweep
