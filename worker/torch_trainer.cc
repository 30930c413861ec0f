#include "worker/torch_trainer.h"

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceGuard.h>
#include <torch/cuda.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/utils.h>
#include <torch/version.h>

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

#include "core/csv.h"
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

// How a trial computes: autocast to a lower precision or not, channels-last
// tensors or not, and dynamic loss scaling (fp16 only: its narrow range
// underflows small gradients).
struct Arithmetic {
  bool autocast = false;
  torch::ScalarType dtype = torch::kFloat32;
  bool channels_last = false;
  bool loss_scaling = false;
};

Arithmetic ResolveArithmetic(const TrialParams& params, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  Arithmetic a;
  const std::string precision =
      params.precision == "auto" ? (cuda ? "bf16" : "fp32") : params.precision;
  if (precision == "fp16" && !cuda) {
    throw std::invalid_argument(
        "trial parameter 'precision' = fp16 needs a "
        "CUDA device (this worker runs on the CPU); "
        "use bf16 or fp32");
  }
  a.autocast = precision != "fp32";
  a.dtype =
      precision == "fp16" ? torch::kFloat16 : (a.autocast ? torch::kBFloat16 : torch::kFloat32);
  a.loss_scaling = precision == "fp16";
  a.channels_last = params.memory_format == "auto" ? cuda : params.memory_format == "channels_last";
  return a;
}

// Autocast on the trial's device for the lifetime of the scope (forward passes
// and the loss).
class AutocastScope {
 public:
  AutocastScope(const Arithmetic& arithmetic, const torch::Device& device)
      : active_(arithmetic.autocast), type_(device.type()) {
    if (!active_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    was_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, arithmetic.dtype);
    at::autocast::set_autocast_enabled(type_, true);
#else
    if (type_ == torch::kCUDA) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(arithmetic.dtype);
      at::autocast::set_enabled(true);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(arithmetic.dtype);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
#else
    if (type_ == torch::kCUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_;
  torch::DeviceType type_;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kFloat32;
};

// Moves a batch to the device in the trial's memory format.
torch::Tensor ToDevice(const torch::Tensor& batch, const torch::Device& device,
                       const Arithmetic& arithmetic) {
  torch::Tensor moved = batch.to(device, /*non_blocking=*/true);
  return arithmetic.channels_last ? moved.contiguous(torch::MemoryFormat::ChannelsLast) : moved;
}

// Every 4-d parameter and buffer (convolution weights) to channels-last, in
// place.
void ToChannelsLast(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : model.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  for (torch::Tensor& b : model.buffers()) {
    if (b.dim() == 4) b.set_data(b.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

// fp16 dynamic loss scaling: gradients of loss * scale are unscaled before the
// step; a step whose gradients overflowed is skipped and the scale halved; 2000
// clean steps in a row double it.
class LossScaler {
 public:
  torch::Tensor Scale(const torch::Tensor& loss) const { return loss * scale_; }
  // Unscales the gradients; false when any is not finite (the step must be
  // skipped).
  bool Unscale(const std::vector<torch::Tensor>& parameters) {
    torch::NoGradGuard no_grad;
    bool finite = true;
    for (const torch::Tensor& p : parameters) {
      if (!p.grad().defined()) continue;
      p.mutable_grad().div_(scale_);
      if (finite && !torch::isfinite(p.grad()).all().item<bool>()) finite = false;
    }
    if (finite) {
      if (++clean_steps_ == 2000) {
        scale_ *= 2.0;
        clean_steps_ = 0;
      }
    } else {
      scale_ = std::max(1.0, scale_ / 2.0);
      clean_steps_ = 0;
    }
    return finite;
  }

 private:
  double scale_ = 65536.0;
  int clean_steps_ = 0;
};

// Builds an (n, 3, H, W) float batch straight from the cached HWC bytes, one
// plan per image (worker/augment.h): one allocation per batch, none per image.
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

// Class probabilities (row-major, num_classes columns) for the given images, in
// the given order, of one view: the evaluation crop, mirrored when `flipped`.
std::vector<float> PredictView(ClassifierImpl& model, const ImageCache& cache,
                               const std::vector<int64_t>& indices, const TrialParams& params,
                               int num_classes, bool flipped, const torch::Device& device,
                               const Arithmetic& arithmetic, TrialContext& context) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int batch_size = std::max(params.batch_size, 64);
  std::vector<float> probs(indices.size() * static_cast<size_t>(num_classes));
  const int64_t total = static_cast<int64_t>(indices.size());
  const std::vector<ImagePlan> plans(static_cast<size_t>(batch_size),
                                     EvalPlan(params, cache.width(), cache.height(), flipped));
  for (int64_t start = 0; start < total; start += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, total - start);
    torch::Tensor batch =
        ToDevice(MakeBatch(cache, indices.data() + start, n, plans), device, arithmetic);
    torch::Tensor p;
    {
      AutocastScope autocast(arithmetic, device);
      p = HeadProbabilities(model.forward(batch).to(torch::kFloat32), params.head);
    }
    p = p.to(torch::kCPU).contiguous();
    std::copy(p.data_ptr<float>(), p.data_ptr<float>() + n * num_classes,
              probs.begin() + start * num_classes);
    context.KeepAlive();
  }
  return probs;
}

// The mean of two views' probabilities (hflip test-time augmentation).
std::vector<float> MeanOfViews(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> mean(a.size());
  for (size_t i = 0; i < a.size(); ++i) mean[i] = 0.5f * (a[i] + b[i]);
  return mean;
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

// Batch boundaries over n shuffled items. A last batch of one image is folded
// into the one before: BatchNorm in training mode cannot normalise a single
// sample once the feature map is 1x1.
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

// One line per validation row: the image, its group (person) and its label.
void WriteValIndex(const std::string& path, const Dataset& data,
                   const std::vector<int64_t>& val_rows) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "row,path,person,label\n";
  for (size_t row = 0; row < val_rows.size(); ++row) {
    const LabeledImage& image = data.train_listing[static_cast<size_t>(val_rows[row])];
    WriteCsvRow(out, {std::to_string(row), image.path, image.person, std::to_string(image.label)});
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

void WriteProbs(const std::string& path, std::vector<float> probs, int num_classes) {
  Matrix matrix;
  matrix.cols = num_classes;
  matrix.rows = static_cast<int64_t>(probs.size()) / num_classes;
  matrix.values = std::move(probs);
  WriteNpy(path, matrix);
}

// Written to a temporary name and renamed, so a reader never sees half a
// checkpoint.
void WriteCheckpoint(const std::string& path, ClassifierImpl& model) {
  model.to(torch::kCPU);  // loadable on a machine without a GPU
  torch::serialize::OutputArchive archive;
  model.save(archive);
  const std::string temporary = path + ".tmp";
  archive.save_to(temporary);
  fs::rename(temporary, path);
}

// The device once per worker: CUDA device `slot % count` when LibTorch sees GPUs, else the CPU.
torch::Device ChooseDevice(int slot) {
  const int64_t count = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (count <= 0) return torch::Device(torch::kCPU);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::max(0, slot) % count));
}

class TorchTrainer : public Trainer {
 public:
  TorchTrainer(StudySpec study, int threads, int device_slot)
      : study_(std::move(study)),
        threads_(std::max(1, threads)),
        device_(ChooseDevice(device_slot)) {
    torch::set_num_threads(threads_);
  }

  std::string Device() const override {
    if (device_.is_cuda()) return "cuda:" + std::to_string(device_.index());
    return "cpu, " + std::to_string(threads_) + (threads_ == 1 ? " thread" : " threads");
  }

  TrialResult Run(const TrialRequest& request, TrialContext& context) override;

 private:
  const Dataset& Data(TrialContext& context) {
    // A failed load is remembered: the data does not change under a running
    // study, and decoding a competition-sized set again for every trial only to
    // fail again would waste minutes each.
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
  double TrainEpoch(int epoch, const TrialParams& params, const Arithmetic& arithmetic,
                    ClassifierImpl& model, torch::optim::Optimizer& optimizer,
                    const ClassWeights& weights, LossScaler& scaler, Rng& rng,
                    std::vector<int64_t>& order, TrialContext& context) const;

  // Writes the SWA mean into the model and recomputes BatchNorm statistics over
  // the training images `train` (evaluation view: no random augmentation).
  void FinishSwa(const SwaAverager& swa, const TrialParams& params, const Arithmetic& arithmetic,
                 const std::vector<int64_t>& train, ClassifierImpl& model) const;

  // One model of a trial: the only one with a single split, one per fold with k
  // folds.
  struct FoldModel {
    const SplitIndices* split = nullptr;
    std::shared_ptr<ClassifierImpl> model;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    ClassWeights weights;
    Rng rng{0};
    std::vector<int64_t> order;  // training images, reshuffled every epoch
    SwaAverager swa;
    LossScaler scaler;
    std::vector<float> val_probs;    // latest predictions on split->val (the trial's tta)
    std::vector<float> val_flipped;  // the mirrored view alone, when computed
  };
  FoldModel MakeFoldModel(const TrialRequest& request, const TrialParams& params,
                          const Arithmetic& arithmetic, const SplitIndices& split, int fold) const;
  // Predicts the fold's validation images with the trial's tta (keeping the
  // mirrored view).
  void PredictValidation(FoldModel& fold, const TrialParams& params, const Arithmetic& arithmetic,
                         TrialContext& context) const;

  // One trial between the steps of Run: its models and where their validation rows go.
  struct Trial {
    Trial(const TrialRequest& request, TrialContext& context, const TrialParams& params,
          const Dataset& data, const Arithmetic& arithmetic)
        : request(request), context(context), params(params), data(data), arithmetic(arithmetic) {}

    const TrialRequest& request;
    TrialContext& context;
    const TrialParams& params;
    const Dataset& data;
    const Arithmetic arithmetic;
    // Validation rows: the held-out images of the single split, or with k folds every training
    // image (each predicted by the fold that did not train on it: out-of-fold predictions).
    std::vector<const SplitIndices*> splits;
    std::vector<int64_t> val_rows;  // training images, in validation row order
    std::vector<int64_t> row_of;    // training image -> validation row, -1 if none
    std::vector<int> val_truth;     // one label per validation row
    std::vector<FoldModel> folds;

    bool k_fold() const { return !data.folds.empty(); }
    int classes() const { return data.num_classes; }
    // Scatters every fold's rows into one validation matrix (per-fold vectors of `field`).
    std::vector<float> Gather(std::vector<float> FoldModel::*field) const;
  };
  static void LayOutValidation(Trial& t);
  // Trains every fold one epoch and predicts the validation rows into `val_probs`; sets swa_done
  // once the last epoch has evaluated the SWA average.
  EpochReport TrainAndValidate(Trial& t, int epoch, bool& swa_done,
                               std::vector<float>& val_probs) const;
  // Every epoch, reporting each; returns the final validation probabilities.
  std::vector<float> TrainEpochs(Trial& t, TrialResult& result) const;
  // The eval images' predictions (the mean of the fold models'), plain and mirrored.
  void PredictEval(Trial& t, std::vector<float>& plain, std::vector<float>& flipped) const;
  void WriteArtifacts(Trial& t, std::vector<float> val_probs, TrialResult& result) const;

  const StudySpec study_;
  const int threads_;
  const torch::Device device_;
  std::unique_ptr<Dataset> data_;  // loaded by the first Run, then shared by every trial
  std::exception_ptr data_error_;  // set if that load failed
};

double TorchTrainer::TrainEpoch(int epoch, const TrialParams& params, const Arithmetic& arithmetic,
                                ClassifierImpl& model, torch::optim::Optimizer& optimizer,
                                const ClassWeights& weights, LossScaler& scaler, Rng& rng,
                                std::vector<int64_t>& order, TrialContext& context) const {
  model.train();
  for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates with the trial's own Rng
    std::swap(order[i - 1], order[rng.Below(i)]);
  }
  const ImageCache& cache = data_->train_images;
  double loss_sum = 0;
  torch::Tensor labels_cpu = torch::empty({2 * params.batch_size}, torch::kInt64);
  const auto ranges = BatchRanges(static_cast<int64_t>(order.size()), params.batch_size);
  // Every batch's augmentation is drawn here, in order, so the Rng stream does
  // not depend on timing; each batch is then assembled on a helper thread while
  // the model trains on the one before it.
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
    torch::Tensor images = ToDevice(next.get(), device_, arithmetic);
    if (r + 1 < ranges.size()) next = std::async(std::launch::async, assemble, r + 1);
    int64_t* label = labels_cpu.data_ptr<int64_t>();
    for (int64_t b = 0; b < n; ++b) {
      label[b] = data_->train_listing[static_cast<size_t>(order[start + b])].label;
    }
    torch::Tensor labels = labels_cpu.narrow(0, 0, n).to(device_);

    const double lr = LearningRate(params, epoch, static_cast<double>(r) / ranges.size());
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    optimizer.zero_grad();
    torch::Tensor loss;
    {
      AutocastScope autocast(arithmetic, device_);
      loss = HeadLoss(model.forward(images).to(torch::kFloat32), labels, params, weights);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw std::runtime_error(std::string("loss became ") + (std::isnan(value) ? "NaN" : "inf") +
                               " at epoch " + std::to_string(epoch) + " (lr " + std::to_string(lr) +
                               ")");
    }
    bool step = true;
    if (arithmetic.loss_scaling) {
      scaler.Scale(loss).backward();
      step = scaler.Unscale(model.parameters());  // an overflowing step is skipped
    } else {
      loss.backward();
    }
    if (step && params.grad_clip > 0) {
      torch::nn::utils::clip_grad_norm_(model.parameters(), params.grad_clip);
    }
    if (step) optimizer.step();
    loss_sum += value * static_cast<double>(n);
    context.KeepAlive();
  }
  return loss_sum / static_cast<double>(order.size());
}

void TorchTrainer::FinishSwa(const SwaAverager& swa, const TrialParams& params,
                             const Arithmetic& arithmetic, const std::vector<int64_t>& images,
                             ClassifierImpl& model) const {
  swa.CopyTo(model);
  const ImageCache& cache = data_->train_images;
  const auto ranges = BatchRanges(static_cast<int64_t>(images.size()), params.batch_size);
  size_t next = 0;
  RecomputeBatchNorm(
      model,
      [&]() -> torch::Tensor {
        if (next == ranges.size()) return {};
        const auto [start, end] = ranges[next++];
        const std::vector<ImagePlan> plans(static_cast<size_t>(end - start),
                                           EvalPlan(params, cache.width(), cache.height(), false));
        return ToDevice(MakeBatch(cache, images.data() + start, end - start, plans), device_,
                        arithmetic);
      },
      [&](const torch::Tensor& batch) { return model.forward(batch); });
}

TorchTrainer::FoldModel TorchTrainer::MakeFoldModel(const TrialRequest& request,
                                                    const TrialParams& params,
                                                    const Arithmetic& arithmetic,
                                                    const SplitIndices& split, int fold) const {
  // Fold 0 (and a single split) uses the trial seed itself; further folds
  // derive their own, so their models start differently and shuffle
  // differently.
  const uint64_t seed =
      fold == 0 ? request.seed
                : DeriveSeed(request.seed, StableHash("worker.fold." + std::to_string(fold)));
  const Dataset& data = *data_;
  FoldModel f;
  f.split = &split;
  torch::manual_seed(seed);
  const std::string study_dir =
      study_.source_path.empty() ? "" : fs::path(study_.source_path).parent_path().string();
  f.model = MakeClassifier(
      params.backbone, HeadOutputs(params.head, OptionName(study_.data.format), data.num_classes),
      study_dir, data.train_images.width(), data.train_images.height());
  if (params.pretrained) {
    // A relative `weights` is relative to the study file, like every path in
    // it.
    fs::path weights(params.weights);
    if (weights.is_relative() && !study_.source_path.empty()) {
      weights = fs::path(study_.source_path).parent_path() / weights;
    }
    LoadWeights(*f.model, ResolveWeightFile(weights.string(), params.backbone),
                /*include_head=*/false);
  }
  if (params.freeze_backbone) FreezeBackbone(*f.model);
  f.model->to(device_);
  if (arithmetic.channels_last) ToChannelsLast(*f.model);
  f.optimizer = MakeOptimizer(params, *f.model);
  // Its own stream, so that changing how weights are initialised never changes
  // the batch order.
  f.rng = Rng(DeriveSeed(seed, StableHash("worker.batches")));
  std::vector<int> train_labels;
  for (int64_t i : split.train) {
    train_labels.push_back(data.train_listing[static_cast<size_t>(i)].label);
  }
  f.weights = MakeClassWeights(params.class_weighting, train_labels, data.num_classes, device_);
  f.order = split.train;
  return f;
}

void TorchTrainer::PredictValidation(FoldModel& fold, const TrialParams& params,
                                     const Arithmetic& arithmetic, TrialContext& context) const {
  const Dataset& data = *data_;
  fold.val_probs = PredictView(*fold.model, data.train_images, fold.split->val, params,
                               data.num_classes, /*flipped=*/false, device_, arithmetic, context);
  fold.val_flipped.clear();
  if (params.tta == "hflip") {
    fold.val_flipped =
        PredictView(*fold.model, data.train_images, fold.split->val, params, data.num_classes,
                    /*flipped=*/true, device_, arithmetic, context);
    fold.val_probs = MeanOfViews(fold.val_probs, fold.val_flipped);
  }
}

void TorchTrainer::LayOutValidation(Trial& t) {
  const Dataset& data = t.data;
  if (t.k_fold()) {
    for (const SplitIndices& s : data.folds) t.splits.push_back(&s);
    t.val_rows.resize(data.train_listing.size());
    for (size_t i = 0; i < t.val_rows.size(); ++i) t.val_rows[i] = static_cast<int64_t>(i);
  } else {
    t.splits.push_back(&data.split);
    t.val_rows = data.split.val;
  }
  t.row_of.assign(data.train_listing.size(), -1);
  for (size_t row = 0; row < t.val_rows.size(); ++row) {
    t.row_of[static_cast<size_t>(t.val_rows[row])] = static_cast<int64_t>(row);
  }
  for (int64_t i : t.val_rows) {
    t.val_truth.push_back(data.train_listing[static_cast<size_t>(i)].label);
  }
}

std::vector<float> TorchTrainer::Trial::Gather(std::vector<float> FoldModel::*field) const {
  const int classes = this->classes();
  std::vector<float> all(val_rows.size() * static_cast<size_t>(classes));
  for (const FoldModel& fold : folds) {
    const std::vector<float>& part = fold.*field;
    for (size_t j = 0; j < fold.split->val.size(); ++j) {
      const int64_t row = row_of[static_cast<size_t>(fold.split->val[j])];
      std::copy(part.begin() + static_cast<std::ptrdiff_t>(j * classes),
                part.begin() + static_cast<std::ptrdiff_t>((j + 1) * classes),
                all.begin() + row * classes);
    }
  }
  return all;
}

EpochReport TorchTrainer::TrainAndValidate(Trial& t, int epoch, bool& swa_done,
                                           std::vector<float>& val_probs) const {
  const TrialParams& params = t.params;
  const auto start = Clock::now();
  double train_loss = 0;
  int64_t trained_images = 0;
  for (FoldModel& fold : t.folds) {
    const double loss = TrainEpoch(epoch, params, t.arithmetic, *fold.model, *fold.optimizer,
                                   fold.weights, fold.scaler, fold.rng, fold.order, t.context);
    train_loss += loss * static_cast<double>(fold.order.size());
    trained_images += static_cast<int64_t>(fold.order.size());
    if (params.swa && epoch >= params.swa_start &&
        (epoch - params.swa_start) % params.swa_freq == 0) {
      fold.swa.Add(*fold.model);
    }
    if (fold.swa.count() > 0 && epoch == params.epochs) {  // the last epoch evaluates the average
      FinishSwa(fold.swa, params, t.arithmetic, fold.split->train, *fold.model);
      swa_done = true;
    }
  }
  train_loss /= static_cast<double>(std::max<int64_t>(trained_images, 1));
  const auto trained = Clock::now();
  for (FoldModel& fold : t.folds) PredictValidation(fold, params, t.arithmetic, t.context);
  val_probs = t.Gather(&FoldModel::val_probs);
  EpochReport report{epoch, ValidationMetrics(val_probs, t.val_truth, t.classes(),
                                              study_.data.format == DataFormat::kMask)};
  report.metrics["train_loss"] = train_loss;
  report.metrics["lr"] = LearningRate(params, epoch, 0.999);
  const double train_s = Seconds(trained - start), val_s = Seconds(Clock::now() - trained);
  Log(LogLevel::kDebug, "trial ", t.request.trial_number, " epoch ", epoch, "/", params.epochs,
      ": train_loss ", train_loss, " val_loss ", report.metrics["val_loss"], " val_macro_f1 ",
      report.metrics["val_macro_f1"], " (train ", train_s, " s, ",
      static_cast<int64_t>(static_cast<double>(trained_images) / std::max(train_s, 1e-6)),
      " images/s; validation ", val_s, " s)");
  return report;
}

std::vector<float> TorchTrainer::TrainEpochs(Trial& t, TrialResult& result) const {
  const TrialParams& params = t.params;
  std::vector<float> val_probs;
  bool swa_done = false;
  for (int epoch = 1; epoch <= params.epochs; ++epoch) {
    const EpochReport report = TrainAndValidate(t, epoch, swa_done, val_probs);
    result.metrics = report.metrics;
    result.epochs_completed = epoch;
    if (!t.context.ReportEpoch(report)) {
      result.stopped_early = true;
      break;
    }
  }
  if (params.swa && !swa_done && t.folds.front().swa.count() > 0) {
    // Stopped early: the saved model is still the average.
    for (FoldModel& fold : t.folds) {
      FinishSwa(fold.swa, params, t.arithmetic, fold.split->train, *fold.model);
      PredictValidation(fold, params, t.arithmetic, t.context);
    }
    val_probs = t.Gather(&FoldModel::val_probs);
    const double train_loss = result.metrics["train_loss"];
    result.metrics = ValidationMetrics(val_probs, t.val_truth, t.classes(),
                                       study_.data.format == DataFormat::kMask);
    result.metrics["train_loss"] = train_loss;
  }
  if (params.swa) result.metrics["swa_snapshots"] = t.folds.front().swa.count();
  if (t.k_fold()) result.metrics["folds"] = static_cast<double>(t.folds.size());
  return val_probs;
}

void TorchTrainer::PredictEval(Trial& t, std::vector<float>& plain,
                               std::vector<float>& flipped) const {
  std::vector<int64_t> all(t.data.eval_listing.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  plain.assign(all.size() * static_cast<size_t>(t.classes()), 0.0f);
  flipped.assign(plain.size(), 0.0f);
  const float share = 1.0f / static_cast<float>(t.folds.size());
  for (FoldModel& fold : t.folds) {
    for (bool mirror : {false, true}) {
      const std::vector<float> p =
          PredictView(*fold.model, t.data.eval_images, all, t.params, t.classes(), mirror, device_,
                      t.arithmetic, t.context);
      std::vector<float>& sum = mirror ? flipped : plain;
      for (size_t i = 0; i < p.size(); ++i) sum[i] += share * p[i];
    }
  }
}

void TorchTrainer::WriteArtifacts(Trial& t, std::vector<float> val_probs,
                                  TrialResult& result) const {
  const int classes = t.classes();
  // The mirrored view alone, for ensembles that combine it with the trial
  // (ensemble tta: hflip).
  for (FoldModel& fold : t.folds) {
    if (fold.val_flipped.empty()) {
      fold.val_flipped = PredictView(*fold.model, t.data.train_images, fold.split->val, t.params,
                                     classes, /*flipped=*/true, device_, t.arithmetic, t.context);
    }
  }
  std::vector<float> val_flipped = t.Gather(&FoldModel::val_flipped);

  const fs::path dir(t.request.artifact_dir);
  fs::create_directories(dir);
  const auto add = [&](const std::string& kind, const fs::path& path) {
    result.artifacts.push_back(DescribeArtifact(kind, path.string()));
  };
  WriteConfusionCsv((dir / "confusion.csv").string(), val_probs, t.val_truth, t.data.class_names);
  add("confusion_matrix", dir / "confusion.csv");
  WriteProbs((dir / "val_probs.npy").string(), std::move(val_probs), classes);
  add("val_probs", dir / "val_probs.npy");
  WriteProbs((dir / "val_probs_hflip.npy").string(), std::move(val_flipped), classes);
  add("val_probs_hflip", dir / "val_probs_hflip.npy");
  WriteValIndex((dir / "val_index.csv").string(), t.data, t.val_rows);
  add("val_index", dir / "val_index.csv");
  if (!t.data.eval_listing.empty()) {
    std::vector<float> plain, flipped;
    PredictEval(t, plain, flipped);
    std::vector<float> eval_probs = t.params.tta == "hflip" ? MeanOfViews(plain, flipped) : plain;
    WriteProbs((dir / "eval_probs.npy").string(), std::move(eval_probs), classes);
    add("eval_probs", dir / "eval_probs.npy");
    WriteProbs((dir / "eval_probs_hflip.npy").string(), std::move(flipped), classes);
    add("eval_probs_hflip", dir / "eval_probs_hflip.npy");
  }
  if (t.k_fold()) {
    for (size_t f = 0; f < t.folds.size(); ++f) {
      const std::string name = "model_fold" + std::to_string(f + 1);
      WriteCheckpoint((dir / (name + ".pt")).string(), *t.folds[f].model);
      add("checkpoint_fold" + std::to_string(f + 1), dir / (name + ".pt"));
    }
  } else {
    WriteCheckpoint((dir / "model.pt").string(), *t.folds.front().model);
    add("checkpoint", dir / "model.pt");
  }
}

TrialResult TorchTrainer::Run(const TrialRequest& request, TrialContext& context) {
  const TrialParams params = ParseTrialParams(request.params, request.epochs);
  torch::set_num_threads(threads_);  // process-wide; another trainer may have changed it
  // The worker's GPU is the current device of the thread that trains, so that nothing (a guard
  // restored, a stream, an allocator) opens a context on cuda:0 of a worker bound elsewhere.
  c10::OptionalDeviceGuard device_guard;
  if (device_.is_cuda()) device_guard.reset_device(device_);
  const Dataset& data = Data(context);
  Trial t(request, context, params, data, ResolveArithmetic(params, device_));
  LayOutValidation(t);
  for (size_t f = 0; f < t.splits.size(); ++f) {
    t.folds.push_back(
        MakeFoldModel(request, params, t.arithmetic, *t.splits[f], static_cast<int>(f)));
  }
  TrialResult result;
  std::vector<float> val_probs = TrainEpochs(t, result);
  WriteArtifacts(t, std::move(val_probs), result);
  return result;
}

}  // namespace

std::unique_ptr<Trainer> MakeTorchTrainer(const StudySpec& study, int threads, int device_slot) {
  return std::make_unique<TorchTrainer>(study, threads, device_slot);
}

}  // namespace ensweep
