#include "worker/torch_trainer.h"

#include <torch/cuda.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/mask_layout.h"
#include "core/npy.h"
#include "core/rng.h"
#include "worker/augment.h"
#include "worker/dataset.h"
#include "worker/evaluation.h"
#include "worker/heads.h"
#include "worker/models.h"
#include "worker/schedule.h"
#include "worker/swa.h"
#include "worker/trial_params.h"
#include "worker/weights.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Builds an (n, 3, H, W) float batch straight from the cached HWC bytes, one plan per image
// (worker/augment.h): one allocation per batch, none per image.
torch::Tensor MakeBatch(const ImageCache& cache, const int64_t* indices, int64_t n,
                        const std::vector<ImagePlan>& plans) {
  const int w = cache.width(), h = cache.height();
  const int64_t image_floats = 3 * static_cast<int64_t>(w) * h;
  torch::Tensor batch = torch::empty({n, 3, h, w}, torch::kFloat32);
  float* out = batch.data_ptr<float>();
  for (int64_t b = 0; b < n; ++b) {
    FillImage(cache.image(indices[b]), w, h, plans[static_cast<size_t>(b)], out + b * image_floats);
  }
  return batch;
}

// 18-class probabilities (row-major) for the given images, in the given order; with tta hflip the
// mean of the image's and its mirror's.
std::vector<float> Predict(ClassifierImpl& model, const ImageCache& cache,
                           const std::vector<int64_t>& indices, const TrialParams& params,
                           const torch::Device& device, TrialContext& context) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int batch_size = std::max(params.batch_size, 64);
  std::vector<float> probs(indices.size() * kNumClasses);
  const int64_t total = static_cast<int64_t>(indices.size());
  const int views = params.tta == "hflip" ? 2 : 1;
  for (int64_t start = 0; start < total; start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, total - start);
    torch::Tensor p;
    for (int view = 0; view < views; ++view) {
      const std::vector<ImagePlan> plans(
          static_cast<size_t>(n), EvalPlan(params, cache.width(), cache.height(), view == 1));
      torch::Tensor batch = MakeBatch(cache, indices.data() + start, n, plans).to(device);
      torch::Tensor view_p = HeadProbabilities(model.forward(batch), params.head);
      p = view == 0 ? view_p : p + view_p;
    }
    p = (p / views).to(torch::kCPU, torch::kFloat32).contiguous();
    std::copy(p.data_ptr<float>(), p.data_ptr<float>() + n * kNumClasses,
              probs.begin() + start * kNumClasses);
    context.KeepAlive();
  }
  return probs;
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrialParams& params,
                                                       ClassifierImpl& model) {
  std::vector<torch::Tensor> trainable;
  for (const torch::Tensor& p : model.parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  if (params.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(
        trainable, torch::optim::AdamOptions(params.lr).weight_decay(params.weight_decay));
  }
  if (params.optimizer == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        trainable, torch::optim::AdamWOptions(params.lr).weight_decay(params.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(trainable, torch::optim::SGDOptions(params.lr)
                                                            .momentum(params.momentum)
                                                            .nesterov(params.nesterov)
                                                            .weight_decay(params.weight_decay));
}

// Batch boundaries over n shuffled items. A last batch of one image is folded into the one before:
// BatchNorm in training mode cannot normalise a single sample once the feature map is 1x1.
std::vector<std::pair<int64_t, int64_t>> BatchRanges(int64_t n, int batch_size) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int64_t start = 0; start < n; start += batch_size) {
    ranges.emplace_back(start, std::min<int64_t>(n, start + batch_size));
  }
  if (ranges.size() >= 2 && ranges.back().second - ranges.back().first == 1) {
    ranges.pop_back();
    ranges.back().second = n;
  }
  return ranges;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void WriteValIndex(const std::string& path, const Dataset& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "row,path,person,label\n";
  for (size_t row = 0; row < data.split.val.size(); ++row) {
    const LabeledImage& image = data.train_listing[static_cast<size_t>(data.split.val[row])];
    out << row << ',' << CsvField(image.path) << ',' << CsvField(image.person) << ',' << image.label
        << '\n';
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

void WriteProbs(const std::string& path, std::vector<float> probs) {
  Matrix matrix;
  matrix.cols = kNumClasses;
  matrix.rows = static_cast<int64_t>(probs.size()) / kNumClasses;
  matrix.values = std::move(probs);
  WriteNpy(path, matrix);
}

// Written to a temporary name and renamed, so a reader never sees half a checkpoint.
void WriteCheckpoint(const std::string& path, ClassifierImpl& model) {
  model.to(torch::kCPU);  // loadable on a machine without a GPU
  torch::serialize::OutputArchive archive;
  model.save(archive);
  const std::string temporary = path + ".tmp";
  archive.save_to(temporary);
  fs::rename(temporary, path);
}

class TorchTrainer : public Trainer {
 public:
  TorchTrainer(StudySpec study, int threads)
      : study_(std::move(study)),
        threads_(std::max(1, threads)),
        device_(torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                            : torch::Device(torch::kCPU)) {
    torch::set_num_threads(threads_);
  }

  std::string Device() const override {
    if (device_.is_cuda()) return "cuda:0";
    return "cpu, " + std::to_string(threads_) + (threads_ == 1 ? " thread" : " threads");
  }

  TrialResult Run(const TrialRequest& request, TrialContext& context) override;

 private:
  const Dataset& Data(TrialContext& context) {
    // A failed load is remembered: the data does not change under a running study, and decoding a
    // competition-sized set again for every trial only to fail again would waste minutes each.
    if (data_error_) std::rethrow_exception(data_error_);
    if (!data_) {
      try {
        data_ = std::make_unique<Dataset>(
            LoadDataset(study_.data, threads_, [&context] { context.KeepAlive(); }));
      } catch (...) {
        data_error_ = std::current_exception();
        throw;
      }
    }
    return *data_;
  }

  // Trains one epoch and returns the mean training loss over its images.
  double TrainEpoch(int epoch, const TrialParams& params, ClassifierImpl& model,
                    torch::optim::Optimizer& optimizer, const ClassWeights& weights, Rng& rng,
                    std::vector<int64_t>& order, TrialContext& context) const;

  // Writes the SWA mean into the model and recomputes BatchNorm statistics over the training images
  // (evaluation view: no random augmentation).
  void FinishSwa(const SwaAverager& swa, const TrialParams& params, ClassifierImpl& model) const;

  const StudySpec study_;
  const int threads_;
  const torch::Device device_;
  std::unique_ptr<Dataset> data_;  // loaded by the first Run, then shared by every trial
  std::exception_ptr data_error_;  // set if that load failed
};

double TorchTrainer::TrainEpoch(int epoch, const TrialParams& params, ClassifierImpl& model,
                                torch::optim::Optimizer& optimizer, const ClassWeights& weights,
                                Rng& rng, std::vector<int64_t>& order,
                                TrialContext& context) const {
  model.train();
  for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates with the trial's own Rng
    std::swap(order[i - 1], order[rng.Below(i)]);
  }
  const ImageCache& cache = data_->train_images;
  double loss_sum = 0;
  torch::Tensor labels_cpu = torch::empty({2 * params.batch_size}, torch::kInt64);
  const auto ranges = BatchRanges(static_cast<int64_t>(order.size()), params.batch_size);
  // Every batch's augmentation is drawn here, in order, so the Rng stream does not depend on
  // timing; each batch is then assembled on a helper thread while the model trains on the one
  // before it.
  std::vector<std::vector<ImagePlan>> plans(ranges.size());
  for (size_t r = 0; r < ranges.size(); ++r) {
    for (int64_t b = ranges[r].first; b < ranges[r].second; ++b) {
      plans[r].push_back(DrawPlan(params, cache.width(), cache.height(), /*train=*/true, rng));
    }
  }
  const auto assemble = [&](size_t r) {
    return MakeBatch(cache, order.data() + ranges[r].first, ranges[r].second - ranges[r].first,
                     plans[r]);
  };
  std::future<torch::Tensor> next = std::async(std::launch::async, assemble, size_t{0});
  for (size_t r = 0; r < ranges.size(); ++r) {
    const auto [start, end] = ranges[r];
    const int64_t n = end - start;
    torch::Tensor images = next.get().to(device_);
    if (r + 1 < ranges.size()) next = std::async(std::launch::async, assemble, r + 1);
    int64_t* label = labels_cpu.data_ptr<int64_t>();
    for (int64_t b = 0; b < n; ++b) {
      label[b] = data_->train_listing[static_cast<size_t>(order[start + b])].label;
    }
    torch::Tensor labels = labels_cpu.narrow(0, 0, n).to(device_);

    const double lr = LearningRate(params, epoch, static_cast<double>(r) / ranges.size());
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    optimizer.zero_grad();
    torch::Tensor loss = HeadLoss(model.forward(images), labels, params, weights);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw std::runtime_error(std::string("loss became ") + (std::isnan(value) ? "NaN" : "inf") +
                               " at epoch " + std::to_string(epoch) + " (lr " + std::to_string(lr) +
                               ")");
    }
    loss.backward();
    if (params.grad_clip > 0) {
      torch::nn::utils::clip_grad_norm_(model.parameters(), params.grad_clip);
    }
    optimizer.step();
    loss_sum += value * static_cast<double>(n);
    context.KeepAlive();
  }
  return loss_sum / static_cast<double>(order.size());
}

void TorchTrainer::FinishSwa(const SwaAverager& swa, const TrialParams& params,
                             ClassifierImpl& model) const {
  swa.CopyTo(model);
  const ImageCache& cache = data_->train_images;
  const std::vector<int64_t>& images = data_->split.train;
  const auto ranges = BatchRanges(static_cast<int64_t>(images.size()), params.batch_size);
  size_t next = 0;
  RecomputeBatchNorm(
      model,
      [&]() -> torch::Tensor {
        if (next == ranges.size()) return {};
        const auto [start, end] = ranges[next++];
        const std::vector<ImagePlan> plans(static_cast<size_t>(end - start),
                                           EvalPlan(params, cache.width(), cache.height(), false));
        return MakeBatch(cache, images.data() + start, end - start, plans).to(device_);
      },
      [&](const torch::Tensor& batch) { return model.forward(batch); });
}

TrialResult TorchTrainer::Run(const TrialRequest& request, TrialContext& context) {
  const TrialParams params = ParseTrialParams(request.params, request.epochs);
  torch::set_num_threads(threads_);  // process-wide; another trainer may have changed it
  const Dataset& data = Data(context);

  torch::manual_seed(request.seed);
  std::shared_ptr<ClassifierImpl> model = MakeClassifier(
      params.backbone, HeadOutputs(params.head, study_.data.format, data.num_classes));
  if (params.pretrained) {
    // A relative `weights` is relative to the study file, like every path in it.
    fs::path weights(params.weights);
    if (weights.is_relative() && !study_.source_path.empty()) {
      weights = fs::path(study_.source_path).parent_path() / weights;
    }
    LoadWeights(*model, ResolveWeightFile(weights.string(), params.backbone),
                /*include_head=*/false);
  }
  if (params.freeze_backbone) FreezeBackbone(*model);
  model->to(device_);
  std::unique_ptr<torch::optim::Optimizer> optimizer = MakeOptimizer(params, *model);
  // Its own stream, so that changing how weights are initialised never changes the batch order.
  Rng rng(DeriveSeed(request.seed, StableHash("worker.batches")));

  std::vector<int> val_truth, train_labels;
  for (int64_t i : data.split.val) {
    val_truth.push_back(data.train_listing[static_cast<size_t>(i)].label);
  }
  for (int64_t i : data.split.train) {
    train_labels.push_back(data.train_listing[static_cast<size_t>(i)].label);
  }
  const ClassWeights weights =
      MakeClassWeights(params.class_weighting, train_labels, data.num_classes, device_);

  TrialResult result;
  std::vector<int64_t> order = data.split.train;
  std::vector<float> val_probs;
  SwaAverager swa;
  bool swa_done = false;
  for (int epoch = 1; epoch <= params.epochs; ++epoch) {
    const auto start = Clock::now();
    const double train_loss =
        TrainEpoch(epoch, params, *model, *optimizer, weights, rng, order, context);
    if (params.swa && epoch >= params.swa_start &&
        (epoch - params.swa_start) % params.swa_freq == 0) {
      swa.Add(*model);
    }
    if (swa.count() > 0 && epoch == params.epochs) {  // the last epoch evaluates the average
      FinishSwa(swa, params, *model);
      swa_done = true;
    }
    const auto trained = Clock::now();
    val_probs = Predict(*model, data.train_images, data.split.val, params, device_, context);
    EpochReport report{epoch, ValidationMetrics(val_probs, val_truth, data.num_classes,
                                                study_.data.format == "mask")};
    report.metrics["train_loss"] = train_loss;
    report.metrics["lr"] = LearningRate(params, epoch, 0.999);
    const double train_s = Seconds(trained - start), val_s = Seconds(Clock::now() - trained);
    Log(LogLevel::kDebug, "trial ", request.trial_number, " epoch ", epoch, "/", params.epochs,
        ": train_loss ", train_loss, " val_loss ", report.metrics["val_loss"], " val_macro_f1 ",
        report.metrics["val_macro_f1"], " (train ", train_s, " s, ",
        static_cast<int64_t>(static_cast<double>(order.size()) / std::max(train_s, 1e-6)),
        " images/s; validation ", val_s, " s)");
    result.metrics = report.metrics;
    result.epochs_completed = epoch;
    if (!context.ReportEpoch(report)) {
      result.stopped_early = true;
      break;
    }
  }
  if (swa.count() > 0 && !swa_done) {  // stopped early: the saved model is still the average
    FinishSwa(swa, params, *model);
    val_probs = Predict(*model, data.train_images, data.split.val, params, device_, context);
    const double train_loss = result.metrics["train_loss"];
    result.metrics =
        ValidationMetrics(val_probs, val_truth, data.num_classes, study_.data.format == "mask");
    result.metrics["train_loss"] = train_loss;
  }
  if (params.swa) result.metrics["swa_snapshots"] = swa.count();

  const fs::path dir(request.artifact_dir);
  fs::create_directories(dir);
  const auto add = [&](const std::string& kind, const fs::path& path) {
    result.artifacts.push_back(DescribeArtifact(kind, path.string()));
  };
  WriteConfusionCsv((dir / "confusion.csv").string(), val_probs, val_truth, data.class_names);
  add("confusion_matrix", dir / "confusion.csv");
  WriteProbs((dir / "val_probs.npy").string(), std::move(val_probs));
  add("val_probs", dir / "val_probs.npy");
  WriteValIndex((dir / "val_index.csv").string(), data);
  add("val_index", dir / "val_index.csv");
  if (!data.eval_listing.empty()) {
    std::vector<int64_t> all(data.eval_listing.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    WriteProbs((dir / "eval_probs.npy").string(),
               Predict(*model, data.eval_images, all, params, device_, context));
    add("eval_probs", dir / "eval_probs.npy");
  }
  WriteCheckpoint((dir / "model.pt").string(), *model);
  add("checkpoint", dir / "model.pt");
  return result;
}

}  // namespace

std::unique_ptr<Trainer> MakeTorchTrainer(const StudySpec& study, int threads) {
  return std::make_unique<TorchTrainer>(study, threads);
}

}  // namespace ensweep
