#include "apps/torch_plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "core/error.h"
#include "orchestrator/local_workers.h"
#include "worker/plugin.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

struct LoadedPlugin {
  std::string path;
  EnsweepTorchPluginFactoryFn make_trainer = nullptr;
  EnsweepTorchPluginPredictFn predict = nullptr;
  EnsweepTorchPluginExportFn export_model = nullptr;
};

LoadedPlugin LoadPlugin() {
  LoadedPlugin plugin;
  plugin.path = FindTorchPlugin();
  void* handle = dlopen(plugin.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw std::runtime_error("cannot load the LibTorch trainer module " + plugin.path + ": " +
                             (why ? why : "unknown error"));
  }
  auto abi = reinterpret_cast<EnsweepTorchPluginAbiFn>(dlsym(handle, kTorchPluginAbiSymbol));
  plugin.make_trainer =
      reinterpret_cast<EnsweepTorchPluginFactoryFn>(dlsym(handle, kTorchPluginFactorySymbol));
  plugin.predict =
      reinterpret_cast<EnsweepTorchPluginPredictFn>(dlsym(handle, kTorchPluginPredictSymbol));
  plugin.export_model =
      reinterpret_cast<EnsweepTorchPluginExportFn>(dlsym(handle, kTorchPluginExportSymbol));
  if (!abi || !plugin.make_trainer) {
    throw UserError(plugin.path + " is not an ensweep LibTorch trainer module (no " +
                    kTorchPluginFactorySymbol + ")");
  }
  if (abi() != kTorchPluginAbi) {
    throw UserError(plugin.path +
                    " comes from another ensweep build; rebuild it with this executable "
                    "(or point ENSWEEP_TORCH_PLUGIN at the matching module)");
  }
  if (!plugin.predict || !plugin.export_model) {
    throw UserError(plugin.path +
                    " comes from another ensweep build; rebuild it with this executable "
                    "(or point ENSWEEP_TORCH_PLUGIN at the matching module)");
  }
  return plugin;  // the handle stays open for the life of the process
}

const LoadedPlugin& Plugin() {
  static std::once_flag once;
  static LoadedPlugin plugin;
  std::call_once(once, [] { plugin = LoadPlugin(); });
  return plugin;
}

// A status from the module's predict or export: 2 is bad input, anything else not 0 a failure.
void ThrowFor(int status, const char* error, const char* what) {
  if (status == 0) return;
  const std::string text = error[0] ? error : what;
  if (status == 2) throw UserError(text);
  throw std::runtime_error(text);
}

}  // namespace

std::string FindTorchPlugin() {
  if (const char* env = std::getenv("ENSWEEP_TORCH_PLUGIN"); env && *env) {
    if (fs::is_regular_file(env)) return fs::absolute(env).string();
    throw UserError(std::string("ENSWEEP_TORCH_PLUGIN: ") + env + " is not a file");
  }
  const fs::path exe_dir = fs::path(SelfExecutable()).parent_path();
  const std::vector<fs::path> candidates = {
      exe_dir / kTorchPluginFile,
      exe_dir.parent_path() / "lib" / "ensweep" / kTorchPluginFile,
  };
  std::string looked;
  for (const auto& candidate : candidates) {
    if (fs::is_regular_file(candidate)) return candidate.string();
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  throw UserError(std::string("the LibTorch trainer module ") + kTorchPluginFile +
                  " is missing (looked in " + looked +
                  "); build it (target ensweep_torch) or set "
                  "ENSWEEP_TORCH_PLUGIN to its path");
}

std::unique_ptr<Trainer> MakeTorchTrainerFromPlugin(const StudySpec& study, int threads,
                                                    int device_slot, const std::string& log_name) {
  const LoadedPlugin& plugin = Plugin();
  char error[4096] = {0};
  Trainer* trainer =
      plugin.make_trainer(&study, threads, device_slot, log_name.c_str(), error, sizeof(error));
  if (!trainer) throw std::runtime_error(error[0] ? error : "the LibTorch trainer module failed");
  return std::unique_ptr<Trainer>(trainer);
}

std::vector<Matrix> PredictWithTorchPlugin(const InferenceJob& job) {
  char error[4096] = {0};
  std::vector<Matrix> out;
  ThrowFor(Plugin().predict(&job, &out, error, sizeof(error)), error, "prediction failed");
  return out;
}

void ExportWithTorchPlugin(const InferenceJob& job, const std::string& path) {
  char error[4096] = {0};
  ThrowFor(Plugin().export_model(&job, path.c_str(), error, sizeof(error)), error, "export failed");
}

}  // namespace ensweep
