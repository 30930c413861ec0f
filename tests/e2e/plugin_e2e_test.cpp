// The LibTorch trainer is a module (libensweep_torch.so) that `ensweep` loads only for torch
// studies: the executable itself never links LibTorch, objective studies run without the module,
// and a torch study without it stops with a clear error.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "e2e_util.h"

using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// A copy of the executable alone in `dir`, without the module next to it.
std::string LoneCopy(const fs::path& dir) {
  const fs::path copy = dir / "bin" / "ensweep";
  fs::create_directories(copy.parent_path());
  fs::copy_file(Ensweep(), copy, fs::copy_options::overwrite_existing);
  return copy.string();
}

}  // namespace

TEST_CASE("the executable does not link LibTorch and the module next to it does", "[e2e][plugin]") {
  const auto exe = RunCommand("ldd " + Ensweep());
  REQUIRE(exe.status == 0);
  CHECK_THAT(exe.output, !Catch::Contains("libtorch"));
  const fs::path module = fs::path(Ensweep()).parent_path() / "libensweep_torch.so";
  REQUIRE(fs::is_regular_file(module));
  const auto lib = RunCommand("ldd " + module.string());
  CHECK_THAT(lib.output, Catch::Contains("libtorch"));
  CHECK_THAT(lib.output, !Catch::Contains("not found"));
}

TEST_CASE("an objective study runs without the torch module", "[e2e][plugin]") {
  const fs::path dir = FreshDir("plugin_objective");
  std::ofstream(dir / "branin.yaml") << "study: branin\n"
                                        "trainer: {type: branin}\n"
                                        "objective: {metric: value, direction: minimize}\n"
                                        "budget: {trials: 12, epochs: 1}\n"
                                        "sampler: {type: tpe, seed: 0}\n"
                                        "space:\n"
                                        "  x1: {uniform: [-5, 10]}\n"
                                        "  x2: {uniform: [0, 15]}\n";
  const std::string lone = LoneCopy(dir);
  const auto run = RunCommand("env -u ENSWEEP_TORCH_PLUGIN " + lone + " run " +
                              (dir / "branin.yaml").string() + " --workers 2 -q");
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("12 complete"));
}

TEST_CASE("a torch study without the module exits with status 2 and says where it looked",
          "[e2e][plugin]") {
  const fs::path dir = FreshDir("plugin_missing");
  std::ofstream(dir / "torch.yaml") << "study: torch\n"
                                       "data: {train: data}\n"
                                       "space:\n"
                                       "  lr: {log_uniform: [1.0e-4, 1.0e-1]}\n";
  const std::string lone = LoneCopy(dir);
  const auto missing =
      RunCommand("env -u ENSWEEP_TORCH_PLUGIN " + lone + " run " + (dir / "torch.yaml").string());
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("libensweep_torch.so is missing"));
  CHECK_THAT(missing.output, Catch::Contains((dir / "bin").string()));
  CHECK_THAT(missing.output, Catch::Contains("ENSWEEP_TORCH_PLUGIN"));

  const auto wrong = RunCommand("ENSWEEP_TORCH_PLUGIN=" + (dir / "nowhere.so").string() + " " +
                                Ensweep() + " run " + (dir / "torch.yaml").string());
  CHECK(wrong.status == 2);
  CHECK_THAT(wrong.output, Catch::Contains("ENSWEEP_TORCH_PLUGIN"));
  CHECK_THAT(wrong.output, Catch::Contains("nowhere.so"));
}
