// Data-parallel gang trials (worker/gang.h): members on threads of this process, joined by an
// in-memory communicator group, against one worker with the same global batch.
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that
// macro so that Catch's CHECK is the one in force.
#include <torch/serialize.h>

#include "worker/communicator.h"
#include "worker/gang.h"
#include "worker/models.h"
#undef CHECK

#include <catch2/catch.hpp>

#include "core/mask_layout.h"
#include "core/npy.h"
#include "tests/worker/tiny_mask_data.h"
#include "worker/torch_trainer.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

const test::TinyMaskData& Data() {
  static const test::TinyMaskData data("gang_test", 12, 2, 5);
  return data;
}

// Records the reports; answers STOP after `stop_after_epoch` (0: never). For gangs joined by
// ConnectGang, Rendezvous hands rank 0's blob to the others as the coordinator's relay would.
class RecordingContext : public TrialContext {
 public:
  explicit RecordingContext(int stop_after_epoch = 0) : stop_after_epoch_(stop_after_epoch) {}
  bool ReportEpoch(const EpochReport& report) override {
    reports.push_back(report);
    return stop_after_epoch_ == 0 || report.epoch < stop_after_epoch_;
  }
  void KeepAlive() override {}
  std::string Rendezvous(const std::string& blob) override {
    if (!blob.empty()) {
      relay->set_value(blob);
      return blob;
    }
    return relayed.get();
  }

  std::vector<EpochReport> reports;
  std::shared_ptr<std::promise<std::string>> relay;
  std::shared_future<std::string> relayed;

 private:
  int stop_after_epoch_;
};

TrialRequest Request(const nlohmann::json& params, int epochs, const std::string& dir) {
  TrialRequest request;
  request.trial_number = 1;
  request.seed = 17;
  request.params = params;
  request.epochs = epochs;
  request.artifact_dir = (Data().root / "artifacts" / dir).string();
  return request;
}

struct Outcome {
  TrialResult result;
  RecordingContext context;
};

// One worker alone (one thread).
Outcome RunAlone(const TrialRequest& request) {
  Outcome out;
  out.result = MakeTorchTrainer(Data().Study("gang"), 1)->Run(request, out.context);
  return out;
}

// A gang of `size` members, each with its own trainer and context on its own thread; member r
// writes under <artifact_dir>/rank<r> so that a write by any member but rank 0 shows.
// With `tcp`, the members join through the trainer's default, ConnectGang (TCP on 127.0.0.1),
// else through an in-memory group.
std::vector<Outcome> RunGang(const TrialRequest& request, int size, int stop_after_epoch = 0,
                             bool tcp = false) {
  auto group = std::make_shared<std::vector<std::unique_ptr<Communicator>>>(MakeLocalGroup(size));
  CommunicatorFactory factory = [group](const GangInfo& gang, TrialContext&, const torch::Device&) {
    return std::move((*group)[static_cast<size_t>(gang.rank)]);
  };
  if (tcp) factory = nullptr;
  auto relay = std::make_shared<std::promise<std::string>>();
  const std::shared_future<std::string> relayed = relay->get_future().share();
  std::vector<Outcome> outcomes(static_cast<size_t>(size));
  for (Outcome& o : outcomes) {
    o.context = RecordingContext(stop_after_epoch);
    o.context.relay = relay;
    o.context.relayed = relayed;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      try {
        TrialRequest mine = request;
        mine.gang.size = size;
        mine.gang.rank = r;
        mine.gang.key = "gang-test/1/1";
        mine.gang.advertise_host = "127.0.0.1";
        mine.artifact_dir = request.artifact_dir + "/rank" + std::to_string(r);
        const auto trainer = MakeTorchTrainer(Data().Study("gang"), 1, 0, factory);
        Outcome& o = outcomes[static_cast<size_t>(r)];
        o.result = trainer->Run(mine, o.context);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return outcomes;
}

std::string ArtifactPath(const TrialResult& result, const std::string& kind) {
  for (const ArtifactRecord& a : result.artifacts) {
    if (a.kind == kind) return a.path;
  }
  FAIL("no artifact " << kind);
  return "";
}

// The largest absolute difference between two checkpoints' parameters and buffers.
double CheckpointDistance(const std::string& a, const std::string& b, bool batch_norm) {
  const auto load = [&](const std::string& path) {
    auto model = std::make_shared<CustomCnnImpl>(kNumClasses, batch_norm);
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    model->load(archive);
    return model;
  };
  const auto x = load(a), y = load(b);
  double distance = 0;
  const auto px = x->named_parameters(), py = y->named_parameters();
  for (const auto& item : px) {
    const torch::Tensor d = (item.value() - py[item.key()]).abs().max();
    distance = std::max(distance, d.item<double>());
  }
  const auto bx = x->named_buffers(), by = y->named_buffers();
  for (const auto& item : bx) {
    if (!item.value().is_floating_point()) continue;
    distance = std::max(distance, (item.value() - by[item.key()]).abs().max().item<double>());
  }
  return distance;
}

double MaxDifference(const Matrix& a, const Matrix& b) {
  REQUIRE(a.values.size() == b.values.size());
  double d = 0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    d = std::max(d, static_cast<double>(std::abs(a.values[i] - b.values[i])));
  }
  return d;
}

// Training with augmentation, an uneven batch (15 over two members: 7 and 8; 63 training images, so
// the last batch is 3) and class weights, so that the loss shares and the per-image augmentation
// streams are exercised. Measured without BatchNorm (in-memory group, 1 thread): weights within
// 7e-6 of one worker's after 3 epochs, eval probabilities within 3e-6, losses within 6e-7.
nlohmann::json Params(const std::string& norm) {
  return {{"backbone", "custom_cnn"},
          {"norm", norm},
          {"batch_size", 15},
          {"lr", 0.01},
          {"flip_p", 0.5},
          {"crop_scale", 0.7},
          {"shift", 0.1},
          {"brightness", 0.2},
          {"class_weighting", "balanced"}};
}

}  // namespace

TEST_CASE("a two-member gang trains a model without BatchNorm as one worker with its global batch",
          "[worker][gang]") {
  const TrialRequest request = Request(Params("none"), 3, "plain");
  const Outcome alone = RunAlone(request);
  const std::vector<Outcome> gang = RunGang(request, 2);

  REQUIRE(alone.context.reports.size() == 3);
  for (const Outcome& member : gang) {
    REQUIRE(member.context.reports.size() == 3);
    CHECK(member.result.epochs_completed == 3);
  }
  for (size_t e = 0; e < 3; ++e) {
    const MetricMap& one = alone.context.reports[e].metrics;
    const MetricMap& zero = gang[0].context.reports[e].metrics;
    CHECK(zero.at("train_loss") == Approx(one.at("train_loss")).margin(1e-4));
    CHECK(zero.at("val_loss") == Approx(one.at("val_loss")).margin(1e-4));
    // Every member saw the same gathered predictions.
    CHECK(gang[1].context.reports[e].metrics == zero);
  }
  const std::string single = ArtifactPath(alone.result, "checkpoint");
  const std::string rank0 = ArtifactPath(gang[0].result, "checkpoint");
  CHECK(CheckpointDistance(single, rank0, /*batch_norm=*/false) <= 1e-4);
  CHECK(MaxDifference(ReadNpy(ArtifactPath(alone.result, "eval_probs")),
                      ReadNpy(ArtifactPath(gang[0].result, "eval_probs"))) <= 1e-4);
  // The gang trained: the weights moved from their start.
  CHECK(alone.context.reports.back().metrics.at("train_loss") <
        alone.context.reports.front().metrics.at("train_loss"));
}

TEST_CASE("a gang joined over TCP by the default ConnectGang trains as the in-memory gang",
          "[worker][gang]") {
  const TrialRequest request = Request(Params("none"), 2, "tcp");
  const std::vector<Outcome> local = RunGang(request, 2);
  const std::vector<Outcome> tcp = RunGang(request, 2, 0, /*tcp=*/true);
  for (size_t e = 0; e < 2; ++e) {
    // Both add in rank order in float32: the same sums.
    CHECK(tcp[0].context.reports[e].metrics.at("train_loss") ==
          Approx(local[0].context.reports[e].metrics.at("train_loss")).margin(1e-6));
    CHECK(tcp[1].context.reports[e].metrics == tcp[0].context.reports[e].metrics);
  }
  CHECK(CheckpointDistance(ArtifactPath(local[0].result, "checkpoint"),
                           ArtifactPath(tcp[0].result, "checkpoint"), false) <= 1e-6);
}

TEST_CASE("only rank 0 of a gang writes artifacts", "[worker][gang]") {
  const TrialRequest request = Request(Params("none"), 1, "writers");
  const std::vector<Outcome> gang = RunGang(request, 2);
  CHECK(gang[0].result.artifacts.size() == 7);
  for (const ArtifactRecord& a : gang[0].result.artifacts) CHECK(fs::exists(a.path));
  CHECK(gang[1].result.artifacts.empty());
  CHECK_FALSE(fs::exists(request.artifact_dir + "/rank1"));
  CHECK(gang[1].result.metrics == gang[0].result.metrics);
}

TEST_CASE("sync_bn gives a gang the single worker's BatchNorm statistics, SWA included",
          "[worker][gang]") {
  nlohmann::json params = Params("batch");
  params["swa"] = true;
  params["swa_start"] = 2;
  const TrialRequest request = Request(params, 3, "bn");
  const Outcome alone = RunAlone(request);
  params["sync_bn"] = true;
  const std::vector<Outcome> synced = RunGang(Request(params, 3, "bn-sync"), 2);
  params["sync_bn"] = false;
  const std::vector<Outcome> separate = RunGang(Request(params, 3, "bn-separate"), 2);

  const std::string single = ArtifactPath(alone.result, "checkpoint");
  const double synced_distance =
      CheckpointDistance(single, ArtifactPath(synced[0].result, "checkpoint"), true);
  const double separate_distance =
      CheckpointDistance(single, ArtifactPath(separate[0].result, "checkpoint"), true);
  // Measured (in-memory group, 1 thread): synchronised 1.3e-6 (float32 sums of x and x^2 against
  // torch's own kernel, then three epochs of SGD), per member 0.59; the losses within 3e-7.
  INFO("largest weight difference from one worker: sync_bn " << synced_distance << ", per member "
                                                             << separate_distance);
  CHECK(synced_distance <= 1e-4);
  CHECK(separate_distance > 100 * synced_distance);
  for (size_t e = 0; e < 3; ++e) {
    const MetricMap& one = alone.context.reports[e].metrics;
    const MetricMap& zero = synced[0].context.reports[e].metrics;
    CHECK(zero.at("train_loss") == Approx(one.at("train_loss")).margin(1e-5));
    CHECK(zero.at("val_loss") == Approx(one.at("val_loss")).margin(1e-5));
  }
  CHECK(synced[0].result.metrics.at("swa_snapshots") == 2);
}

TEST_CASE("a STOP answer stops every member of a gang after the same epoch", "[worker][gang]") {
  const std::vector<Outcome> gang = RunGang(Request(Params("none"), 4, "stop"), 2, 2);
  for (const Outcome& member : gang) {
    CHECK(member.context.reports.size() == 2);
    CHECK(member.result.epochs_completed == 2);
    CHECK(member.result.stopped_early);
  }
}

namespace {

// A member whose peers are gone: every collective throws.
class BrokenCommunicator : public Communicator {
 public:
  int rank() const override { return 1; }
  int size() const override { return 2; }
  std::string backend() const override { return "broken"; }
  void AllReduceSum(const std::vector<torch::Tensor>&) override {
    throw std::runtime_error("connection to rank 0 reset");
  }
  void Broadcast(const std::vector<torch::Tensor>&, int) override {}
  void Barrier() override {}
  CommStats stats() const override { return {}; }
};

}  // namespace

TEST_CASE("a gang member whose communicator fails fails the trial naming the gang and the cause",
          "[worker][gang]") {
  TrialRequest request = Request(Params("none"), 1, "broken");
  request.gang.size = 2;
  request.gang.rank = 1;
  request.gang.key = "gang-test/9/2";
  RecordingContext context;
  SECTION("a collective throws") {
    const auto trainer = MakeTorchTrainer(
        Data().Study("gang"), 1, 0, [](const GangInfo&, TrialContext&, const torch::Device&) {
          return std::unique_ptr<Communicator>(new BrokenCommunicator);
        });
    CHECK_THROWS_WITH(trainer->Run(request, context),
                      Catch::Contains("gang gang-test/9/2 (rank 1 of 2, broken)") &&
                          Catch::Contains("failed: connection to rank 0 reset"));
  }
  SECTION("joining throws") {
    const auto trainer = MakeTorchTrainer(
        Data().Study("gang"), 1, 0,
        [](const GangInfo&, TrialContext&, const torch::Device&) -> std::unique_ptr<Communicator> {
          throw std::runtime_error("rendezvous aborted");
        });
    CHECK_THROWS_WITH(trainer->Run(request, context),
                      Catch::Contains("cannot connect: rendezvous aborted"));
  }
  CHECK(context.reports.empty());
}

TEST_CASE("a gang of one needs no communicator; a gang needs a batch per member",
          "[worker][gang]") {
  bool asked = false;
  const auto trainer = MakeTorchTrainer(
      Data().Study("gang"), 1, 0, [&asked](const GangInfo&, TrialContext&, const torch::Device&) {
        asked = true;
        return std::unique_ptr<Communicator>();
      });
  RecordingContext context;
  trainer->Run(Request(Params("none"), 1, "one"), context);
  CHECK_FALSE(asked);
  TrialRequest request = Request({{"batch_size", 2}}, 1, "small");
  request.gang.size = 3;
  CHECK_THROWS_AS(trainer->Run(request, context), std::invalid_argument);
  CHECK_FALSE(asked);
}

}  // namespace ensweep

namespace ensweep {

TEST_CASE("synchronised BatchNorm over two shards matches torch's BatchNorm over the whole batch",
          "[worker][gang]") {
  torch::manual_seed(5);
  const torch::Tensor input = torch::randn({6, 3, 4, 5}) * 2 + 1;
  const torch::Tensor upstream = torch::randn({6, 3, 4, 5});
  // Reference: torch's BatchNorm2d over all 6 rows.
  torch::nn::BatchNorm2d reference(3);
  {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(torch::tensor({0.5, 1.5, -1.0}));
    reference->bias.copy_(torch::tensor({0.1, -0.2, 0.3}));
  }
  torch::Tensor x = input.clone().requires_grad_(true);
  (reference(x) * upstream).sum().backward();
  const torch::Tensor reference_grad = x.grad();

  std::vector<std::unique_ptr<Communicator>> group = MakeLocalGroup(2);
  std::vector<torch::Tensor> grads(2), weight_grads(2), running_var(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      GangInfo info;
      info.size = 2;
      info.rank = r;
      Gang gang(info, std::move(group[static_cast<size_t>(r)]));
      BatchNorm2d bn(3);
      {
        torch::NoGradGuard no_grad;
        bn->weight.copy_(torch::tensor({0.5, 1.5, -1.0}));
        bn->bias.copy_(torch::tensor({0.1, -0.2, 0.3}));
      }
      auto sync = gang.MakeBatchNormSync();
      sync->enabled = true;
      bn->sync = sync;
      const int64_t first = r == 0 ? 0 : 2;  // uneven: rows 0-1 and 2-5
      const int64_t rows = r == 0 ? 2 : 4;
      torch::Tensor mine = input.narrow(0, first, rows).clone().requires_grad_(true);
      (bn(mine) * upstream.narrow(0, first, rows)).sum().backward();
      grads[static_cast<size_t>(r)] = mine.grad();
      weight_grads[static_cast<size_t>(r)] = bn->weight.grad();
      running_var[static_cast<size_t>(r)] = bn->running_var.clone();
    });
  }
  for (std::thread& t : threads) t.join();
  const torch::Tensor grad = torch::cat(grads);
  CHECK((grad - reference_grad).abs().max().item<double>() < 1e-5);
  CHECK((weight_grads[0] + weight_grads[1] - reference->weight.grad()).abs().max().item<double>() <
        1e-4);
  for (const torch::Tensor& v : running_var) {
    CHECK((v - reference->running_var).abs().max().item<double>() < 1e-5);
  }
}

}  // namespace ensweep
