// Throughput measurements behind bench/trainer/run.sh (which runs the PyTorch
// peers beside them and writes the comparison). Hidden from the default run
// ([.]); run by hand:
//   ENSWEEP_BENCH_MODEL=resnet18 worker_test "[step-bench]"
//   ENSWEEP_BENCH_DATA=/path/to/mask/train worker_test "[pipeline-bench]"
// Each prints one line "key value" per measurement, for the script to parse.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "worker/heads.h"
#include "worker/models.h"
#undef CHECK

#include <torch/optim.h>

#include <catch2/catch.hpp>

#include "core/rng.h"
#include "worker/augment.h"
#include "worker/dataset.h"

namespace ensweep {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

}  // namespace

// Forward + loss + backward + SGD step of the trainer's model and loss on a
// fixed 32 x 3 x 128 x 96 batch; ENSWEEP_BENCH_THREADS intra-op threads
// (default 2).
TEST_CASE("model step throughput", "[.][step-bench]") {
  const std::string backbone = Env("ENSWEEP_BENCH_MODEL", "resnet18");
  const int threads = std::atoi(Env("ENSWEEP_BENCH_THREADS", "2").c_str());
  const int steps = std::atoi(Env("ENSWEEP_BENCH_STEPS", "10").c_str());
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::shared_ptr<ClassifierImpl> model = MakeClassifier(backbone, 18);
  model->train();
  torch::optim::SGD optimizer(model->parameters(),
                              torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));
  torch::Tensor images = torch::randn({32, 3, 128, 96});
  // ENSWEEP_BENCH_MEMORY_FORMAT=channels_last: weights and batch in NHWC, as
  // the trial parameter memory_format: channels_last does.
  const bool channels_last = Env("ENSWEEP_BENCH_MEMORY_FORMAT", "contiguous") == "channels_last";
  if (channels_last) {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
    images = images.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  const torch::Tensor labels = torch::randint(0, 18, {32}, torch::kInt64);
  TrialParams params;
  params.head = "single";
  const auto step = [&] {
    optimizer.zero_grad();
    torch::Tensor loss = HeadLoss(model->forward(images), labels, params, {});
    loss.backward();
    optimizer.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds = Since(start);
  std::printf("step_images_per_s %.2f\n", 32.0 * steps / seconds);
  std::printf("threads %d\n", torch::get_num_threads());
  std::printf("memory_format %s\n", channels_last ? "channels_last" : "contiguous");
}

// JPEG files -> normalised, flipped (3, 128, 96) float batches of 32: the first
// epoch decodes (2 threads) and assembles; later epochs assemble from the
// in-memory cache.
TEST_CASE("input pipeline throughput", "[.][pipeline-bench]") {
  const std::string train = Env("ENSWEEP_BENCH_DATA", "");
  REQUIRE(!train.empty());
  const int epochs = std::atoi(Env("ENSWEEP_BENCH_EPOCHS", "3").c_str());
  torch::set_num_threads(2);
  DataSpec data;
  data.format = DataFormat::kMask;
  data.train = train;
  data.width = 96;
  data.height = 128;
  data.split.val_fraction = 0.0001;
  TrialParams params;
  Rng rng(1);
  const auto start = Clock::now();
  const Dataset dataset = LoadDataset(data, 2, {});
  const ImageCache& cache = dataset.train_images;
  const int64_t n = cache.size();
  const int64_t image_floats = 3 * 128 * 96;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  double checksum = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto epoch_start = epoch == 1 ? start : Clock::now();
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
    for (int64_t first = 0; first < n; first += 32) {
      const int64_t count = std::min<int64_t>(32, n - first);
      torch::Tensor batch = torch::empty({count, 3, 128, 96}, torch::kFloat32);
      float* out = batch.data_ptr<float>();
      for (int64_t b = 0; b < count; ++b) {
        const ImagePlan plan = DrawPlan(params, 96, 128, /*train=*/true, rng);
        FillImage(cache.image(order[static_cast<size_t>(first + b)]), 96, 128, plan,
                  out + b * image_floats);
      }
      checksum += out[0];
    }
    std::printf("epoch%d_images_per_s %.1f\n", epoch, n / Since(epoch_start));
  }
  std::printf("images %lld checksum %.3f\n", static_cast<long long>(n), checksum);
}

}  // namespace ensweep
