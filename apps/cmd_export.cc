// `ensweep export`: a recorded ensemble (or one trial) as one TorchScript module, with a JSON
// description beside it.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "apps/commands.h"
#include "apps/inference_job.h"
#include "apps/torch_plugin.h"
#include "core/error.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  StudyLocator locator;
  ModelChoice model;
  std::string out;
};

// model.json: what the module takes and returns, the classes, the image size and the members.
Json Description(const StudyLocator::Found& found, const InferenceJob& job,
                 const AppliedModel& model) {
  Json members = Json::array();
  std::vector<double> weights;
  double total = 0;
  for (const auto& m : model.members) total += m.weight;
  for (const auto& m : model.members) {
    members.push_back({{"trial", m.trial},
                       {"weight", m.weight / total},
                       {"backbone", m.params.value("backbone", std::string("custom_cnn"))},
                       {"head", m.params.value("head", std::string("single"))},
                       {"folds", m.checkpoints.size()},
                       {"hflip", m.hflip},
                       {"params", m.params}});
    weights.push_back(m.weight / total);
  }
  return {{"format", "ensweep TorchScript model"},
          {"input", "uint8 tensor (N, H, W, 3), RGB, any H and W; resized to image_size"},
          {"output", "float32 tensor (N, classes): class probabilities, rows sum to 1"},
          {"study", found.study.name},
          {"data_format", OptionName(job.data.format)},
          {"image_size", {job.data.width, job.data.height}},
          {"class_names", job.class_names},
          {"source", model.description},
          {"members", members},
          {"weights", weights}};
}

int RunExport(const ExportOptions& o) {
  const OpenedModel opened = OpenModel(o.locator, o.model);
  const AppliedModel& model = opened.model;
  const InferenceJob& job = opened.job;
  if (fs::path(o.out).has_parent_path()) fs::create_directories(fs::path(o.out).parent_path());
  ExportWithTorchPlugin(job, o.out);
  const std::string json = fs::path(o.out).replace_extension(".json").string();
  std::ofstream(json) << Description(opened.found, job, model).dump(2) << "\n";
  std::cout << "wrote " << fs::absolute(o.out).string() << " (" << model.what << ", "
            << model.members.size() << (model.members.size() == 1 ? " model" : " members")
            << ") and " << fs::absolute(json).string() << "\n";
  return 0;
}

}  // namespace

Command AddExportCommand(CLI::App& root) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* app = root.add_subcommand(
      "export", "Write a recorded ensemble (or one trial) as one TorchScript module");
  o->locator.AddOptions(app);
  o->model.AddOptions(app);
  app->add_option("-o,--out", o->out, "The module to write, e.g. model.pt (model.json beside it)")
      ->required();
  app->footer(
      "The module loads with torch.jit.load alone (Python or C++). forward(images) takes a\n"
      "uint8 (N, H, W, 3) RGB batch of any size and returns (N, classes) probabilities: the\n"
      "images resized to the study's image size as ensweep resizes decoded pixels, normalised,\n"
      "each member's models (folds averaged, hflip as recorded) and the ensemble's weighted\n"
      "average, in float32 on the CPU. Given the pixels `ensweep predict --save-inputs` writes,\n"
      "it matches `ensweep predict`. Backbones: custom_cnn, resnet*, efficientnet_b0.");
  return {app, [o] { return RunExport(*o); }};
}

}  // namespace ensweep
