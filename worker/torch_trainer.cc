#include "worker/torch_trainer.h"

#include <ATen/Context.h>
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
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/csv.h"
#include "core/log.h"
#include "core/mask_layout.h"
#include "core/npy.h"
#include "core/rng.h"
#include "worker/arithmetic.h"
#include "worker/augment.h"
#include "worker/dataset.h"
#include "worker/evaluation.h"
#include "worker/gang.h"
#include "worker/heads.h"
#include "worker/models.h"
#include "worker/schedule.h"
#include "worker/swa.h"
#include "worker/trial_model.h"
#include "worker/trial_params.h"
#include "worker/weights.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

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

  // The scaler's state, saved with a resumable trial.
  std::pair<double, int> state() const { return {scale_, clean_steps_}; }
  void Restore(double scale, int clean_steps) {
    scale_ = scale;
    clean_steps_ = clean_steps;
  }

 private:
  double scale_ = 65536.0;
  int clean_steps_ = 0;
};

// Class probabilities (row-major, num_classes columns) for the given images, in
// the given order, of one view: the evaluation crop, mirrored when `flipped`.
// In a gang each member predicts its slice of the images and the rows are summed over the gang
// (zeros elsewhere), so every member returns every row.
std::vector<float> PredictView(ClassifierImpl& model, const ImageCache& cache,
                               const std::vector<int64_t>& indices, const TrialParams& params,
                               int num_classes, bool flipped, const torch::Device& device,
                               const Arithmetic& arithmetic, TrialContext& context, Gang& gang) {
  std::vector<float> probs(indices.size() * static_cast<size_t>(num_classes), 0.0f);
  const auto [first, total] = gang.Shard(static_cast<int64_t>(indices.size()));
  PredictRows(model, cache, indices.data() + first, total - first, params,
              std::max(params.batch_size, 64), num_classes, flipped, device, arithmetic,
              probs.data() + first * num_classes, [&context] { context.KeepAlive(); });
  gang.SumRows(probs);
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

// Batch boundaries over n shuffled items. A last batch of one image is folded into the one before:
// BatchNorm in training mode cannot normalise a single sample once the feature map is 1x1. In a
// gang of more than 2 members, so is a last batch of fewer images than members (each member needs
// one); otherwise the batches are the single worker's.
std::vector<std::pair<int64_t, int64_t>> BatchRanges(int64_t n, int batch_size, int members) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int64_t start = 0; start < n; start += batch_size) {
    ranges.emplace_back(start, std::min<int64_t>(n, start + batch_size));
  }
  if (ranges.size() >= 2 && ranges.back().second - ranges.back().first < std::max(2, members)) {
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

// A model's parameters and then its buffers, in module order, copied to the CPU (a copy in host
// memory, so that a GPU holds one model per fold whatever the trial keeps).
std::vector<torch::Tensor> CopyState(ClassifierImpl& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  const auto copy = [](const torch::Tensor& t) {
    return t.device().is_cpu() ? t.detach().clone() : t.detach().to(torch::kCPU);
  };
  for (const torch::Tensor& p : model.parameters()) state.push_back(copy(p));
  for (const torch::Tensor& b : model.buffers()) state.push_back(copy(b));
  return state;
}

// Writes CopyState's tensors back into the same model (on its device, in its memory format).
void RestoreState(ClassifierImpl& model, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  std::vector<torch::Tensor> targets = model.parameters();
  for (const torch::Tensor& b : model.buffers()) targets.push_back(b);
  if (targets.size() != state.size()) throw std::logic_error("model state of a different model");
  for (torch::Tensor& target : targets) target.copy_(state[i++]);
}

// Vectors as 1-d CPU tensors and back (a resumable trial's state).
torch::Tensor FloatTensor(const std::vector<float>& values) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(values.size())}, torch::kFloat32);
  std::copy(values.begin(), values.end(), t.data_ptr<float>());
  return t;
}
std::vector<float> FloatVector(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.to(torch::kCPU).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}
torch::Tensor Int64Tensor(const std::vector<int64_t>& values) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(values.size())}, torch::kInt64);
  std::copy(values.begin(), values.end(), t.data_ptr<int64_t>());
  return t;
}
std::vector<int64_t> Int64Vector(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.to(torch::kCPU).contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}
// Rng is its four words of state (core/rng.h), so its bytes are the state.
static_assert(std::is_trivially_copyable_v<Rng> && sizeof(Rng) == 4 * sizeof(uint64_t));
torch::Tensor RngTensor(const Rng& rng) {
  torch::Tensor t = torch::empty({4}, torch::kInt64);
  std::memcpy(t.data_ptr<int64_t>(), static_cast<const void*>(&rng), sizeof(Rng));
  return t;
}
Rng RngFromTensor(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.to(torch::kCPU).contiguous();
  if (t.numel() != 4) throw std::runtime_error("trial state: bad generator state");
  Rng rng(0);
  std::memcpy(static_cast<void*>(&rng), t.data_ptr<int64_t>(), sizeof(Rng));
  return rng;
}

// A trial's resumable state, in its artifact folder (not an artifact: removed when it ends).
fs::path StatePath(const TrialRequest& request) {
  return fs::path(request.artifact_dir) / "resume.pt";
}

// The device once per worker: CUDA device `slot % count` when LibTorch sees GPUs, else the CPU.
torch::Device ChooseDevice(int slot) {
  const int64_t count = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (count <= 0) return torch::Device(torch::kCPU);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::max(0, slot) % count));
}

// torch::manual_seed seeds the process-wide generator that model initialisation draws from;
// trainers on several threads of one process (a gang's members in a test) take turns.
std::mutex& InitialisationMutex() {
  static std::mutex mutex;
  return mutex;
}

// Fisher-Yates with the trial's own Rng.
void Shuffle(std::vector<int64_t>& order, Rng& rng) {
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
}

class TorchTrainer : public Trainer {
 public:
  TorchTrainer(StudySpec study, int threads, int device_slot, CommunicatorFactory factory)
      : study_(std::move(study)),
        threads_(std::max(1, threads)),
        device_(ChooseDevice(device_slot)),
        factory_(std::move(factory)) {
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

  // The trial's gang: a gang of one, or this member's communicator (from the factory).
  std::unique_ptr<Gang> JoinGang(const TrialRequest& request, const TrialParams& params,
                                 TrialContext& context) const;

  // One model of a trial: the only one with a single split, one per fold with k
  // folds.
  struct FoldModel {
    const SplitIndices* split = nullptr;
    std::shared_ptr<ClassifierImpl> model;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    ClassWeights weights;
    Rng rng{0};                  // the epochs' shuffles
    uint64_t augment_seed = 0;   // an image's augmentation: (augment_seed, epoch, image)
    std::vector<int64_t> order;  // training images, reshuffled every epoch
    SwaAverager swa;
    LossScaler scaler;
    std::shared_ptr<BatchNormSync> bn_sync;  // gang trials only
    std::vector<float> val_probs;            // latest predictions on split->val (the trial's tta)
    std::vector<float> val_flipped;          // the mirrored view alone, when computed
    // objective.scope best: the best epoch's validation predictions, and its weights (CopyState)
    // once training has moved past it (empty while the model still holds them).
    std::vector<float> best_val_probs, best_val_flipped;
    std::vector<torch::Tensor> best_state;
  };

  // One trial between the steps of Run: its models and where their validation rows go.
  struct Trial {
    Trial(const TrialRequest& request, TrialContext& context, const TrialParams& params,
          const Dataset& data, const Arithmetic& arithmetic, Gang& gang)
        : request(request),
          context(context),
          params(params),
          data(data),
          arithmetic(arithmetic),
          gang(gang) {}

    const TrialRequest& request;
    TrialContext& context;
    const TrialParams& params;
    const Dataset& data;
    const Arithmetic arithmetic;
    Gang& gang;
    // Validation rows: the held-out images of the single split, or with k folds every training
    // image (each predicted by the fold that did not train on it: out-of-fold predictions).
    std::vector<const SplitIndices*> splits;
    std::vector<int64_t> val_rows;  // training images, in validation row order
    std::vector<int64_t> row_of;    // training image -> validation row, -1 if none
    std::vector<int> val_truth;     // one label per validation row
    std::vector<FoldModel> folds;
    // objective.scope best: the best epoch so far (0: none yet) and its report. With k folds the
    // folds train epoch by epoch side by side, so the epoch is chosen once on the out-of-fold
    // metric and every fold keeps that epoch's weights and predictions.
    int best_epoch = 0;
    MetricMap best_metrics;
    bool best_is_current = false;      // the models still hold the best epoch's weights
    std::vector<EpochReport> reports;  // every epoch's, in order (saved with the trial's state)

    bool k_fold() const { return !data.folds.empty(); }
    int classes() const { return data.num_classes; }
    // Scatters every fold's rows into one validation matrix (per-fold vectors of `field`).
    std::vector<float> Gather(std::vector<float> FoldModel::*field) const;
  };

  FoldModel MakeFoldModel(Trial& t, const SplitIndices& split, int fold) const;
  // Builds the fold's freshly initialised (or pretrained) model on the device.
  std::shared_ptr<ClassifierImpl> BuildModel(const TrialParams& params, uint64_t seed) const;
  // Trains one epoch and returns the mean training loss over its images.
  double TrainEpoch(Trial& t, FoldModel& f, int epoch) const;
  // One optimiser step on this member's rows of a batch (`batch_labels`: the whole batch's);
  // returns the whole batch's mean loss.
  double TrainStep(Trial& t, FoldModel& f, const torch::Tensor& images, const torch::Tensor& labels,
                   const torch::Tensor& batch_labels, int epoch, double lr) const;
  // Writes the SWA mean into the model and recomputes BatchNorm statistics over
  // the fold's training images (evaluation view: no random augmentation).
  void FinishSwa(Trial& t, FoldModel& f) const;
  // Predicts the fold's validation images with the trial's tta (keeping the
  // mirrored view).
  void PredictValidation(Trial& t, FoldModel& fold) const;
  std::vector<float> Predict(Trial& t, FoldModel& fold, const ImageCache& cache,
                             const std::vector<int64_t>& indices, bool flipped) const {
    return PredictView(*fold.model, cache, indices, t.params, t.classes(), flipped, device_,
                       t.arithmetic, t.context, t.gang);
  }

  static void LayOutValidation(Trial& t);
  // Trains every fold one epoch and predicts the validation rows into `val_probs`; sets swa_done
  // once the last epoch has evaluated the SWA average.
  EpochReport TrainAndValidate(Trial& t, int epoch, bool& swa_done,
                               std::vector<float>& val_probs) const;
  // objective.scope best: keeps `report` (and every fold's predictions) when its objective beats
  // the best epoch's so far; the weights are copied only once training moves on (KeepBestWeights).
  void NoteEpoch(Trial& t, const EpochReport& report) const;
  static void KeepBestWeights(Trial& t);
  // Puts the best epoch's weights and predictions back and makes its report the result's metrics
  // (with best_epoch); returns its validation probabilities.
  std::vector<float> RestoreBest(Trial& t, TrialResult& result) const;
  // The resumable state (StatePath): SaveState after every epoch but the last (rank 0 writes);
  // Resume loads a state of this very trial if every member finds one of the same epoch, replays
  // its reports and returns false when an answer to them stops the trial.
  std::string StateIdentity(const Trial& t) const;
  void SaveState(Trial& t, bool swa_done) const;
  int ReadState(Trial& t, torch::serialize::InputArchive& archive) const;
  void ApplyState(Trial& t, torch::serialize::InputArchive& archive, bool& swa_done) const;
  bool Resume(Trial& t, TrialResult& result, bool& swa_done, std::vector<float>& val_probs) const;
  // Every epoch, reporting each; returns the final validation probabilities.
  std::vector<float> TrainEpochs(Trial& t, TrialResult& result) const;
  // The eval images' predictions (the mean of the fold models'), plain and mirrored.
  void PredictEval(Trial& t, std::vector<float>& plain, std::vector<float>& flipped) const;
  // Predicts what the artifacts need (every member) and writes them (rank 0 only).
  void WriteArtifacts(Trial& t, std::vector<float> val_probs, TrialResult& result) const;

  const StudySpec study_;
  const int threads_;
  const torch::Device device_;
  const CommunicatorFactory factory_;  // empty: ConnectGang
  std::unique_ptr<Dataset> data_;      // loaded by the first Run, then shared by every trial
  std::exception_ptr data_error_;      // set if that load failed
};

std::unique_ptr<Gang> TorchTrainer::JoinGang(const TrialRequest& request, const TrialParams& params,
                                             TrialContext& context) const {
  const GangInfo& info = request.gang;
  if (info.size <= 1) return std::make_unique<Gang>();
  if (info.rank < 0 || info.rank >= info.size) {
    throw std::invalid_argument("gang " + info.key + ": rank " + std::to_string(info.rank) +
                                " outside 0.." + std::to_string(info.size - 1));
  }
  if (params.batch_size < info.size) {
    throw std::invalid_argument(
        "trial parameter 'batch_size' = " + std::to_string(params.batch_size) + ": a gang of " +
        std::to_string(info.size) + " splits every batch over its members; expected at least " +
        std::to_string(info.size));
  }
  std::unique_ptr<Communicator> communicator;
  try {
    communicator =
        factory_ ? factory_(info, context, device_) : ConnectGang(info, context, device_);
  } catch (const std::exception& e) {
    throw std::runtime_error("data-parallel gang " + info.key + " (rank " +
                             std::to_string(info.rank) + " of " + std::to_string(info.size) +
                             "): cannot connect: " + e.what());
  }
  return std::make_unique<Gang>(info, std::move(communicator), device_);
}

double TorchTrainer::TrainEpoch(Trial& t, FoldModel& f, int epoch) const {
  const TrialParams& params = t.params;
  f.model->train();
  Shuffle(f.order, f.rng);
  const std::vector<int64_t>& order = f.order;
  const ImageCache& cache = data_->train_images;
  const auto ranges =
      BatchRanges(static_cast<int64_t>(order.size()), params.batch_size, t.gang.size());
  // Each image's augmentation is drawn from its own stream (epoch, image), so it does not depend on
  // which member assembles it or when; this member's rows of each batch are assembled on a helper
  // thread while the model trains on the batch before.
  const uint64_t epoch_seed = DeriveSeed(f.augment_seed, static_cast<uint64_t>(epoch));
  const auto shard = [&](size_t r) {
    const auto [lo, hi] = t.gang.Shard(ranges[r].second - ranges[r].first);
    return std::make_pair(ranges[r].first + lo, ranges[r].first + hi);
  };
  const auto assemble = [&](size_t r) {
    const auto [first, last] = shard(r);
    std::vector<ImagePlan> plans;
    for (int64_t i = first; i < last; ++i) {
      Rng rng(DeriveSeed(epoch_seed, static_cast<uint64_t>(order[static_cast<size_t>(i)])));
      plans.push_back(DrawPlan(params, cache.width(), cache.height(), /*train=*/true, rng));
    }
    return MakeBatch(cache, order.data() + first, last - first, plans);
  };
  double loss_sum = 0;
  std::future<torch::Tensor> next = std::async(std::launch::async, assemble, size_t{0});
  for (size_t r = 0; r < ranges.size(); ++r) {
    const auto [start, end] = ranges[r];
    const auto [first, last] = shard(r);
    torch::Tensor images = ToDevice(next.get(), device_, t.arithmetic);
    if (r + 1 < ranges.size()) next = std::async(std::launch::async, assemble, r + 1);
    torch::Tensor batch_labels = torch::empty({end - start}, torch::kInt64);
    int64_t* label = batch_labels.data_ptr<int64_t>();
    for (int64_t b = start; b < end; ++b) {
      label[b - start] = data_->train_listing[static_cast<size_t>(order[b])].label;
    }
    batch_labels = batch_labels.to(device_);
    const torch::Tensor labels = batch_labels.narrow(0, first - start, last - first);
    const double lr = LearningRate(params, epoch, static_cast<double>(r) / ranges.size());
    loss_sum +=
        TrainStep(t, f, images, labels, batch_labels, epoch, lr) * static_cast<double>(end - start);
    t.context.KeepAlive();
  }
  return loss_sum / static_cast<double>(order.size());
}

double TorchTrainer::TrainStep(Trial& t, FoldModel& f, const torch::Tensor& images,
                               const torch::Tensor& labels, const torch::Tensor& batch_labels,
                               int epoch, double lr) const {
  const TrialParams& params = t.params;
  for (auto& group : f.optimizer->param_groups()) group.options().set_lr(lr);
  f.optimizer->zero_grad();
  torch::Tensor loss;
  {
    AutocastScope autocast(t.arithmetic, device_);
    const torch::Tensor logits = f.model->forward(images).to(torch::kFloat32);
    // Alone: the batch's mean loss. In a gang: this member's share of it.
    loss = t.gang.active() ? HeadLossShare(logits, labels, batch_labels, params, f.weights)
                           : HeadLoss(logits, labels, params, f.weights);
  }
  if (t.arithmetic.loss_scaling) {
    f.scaler.Scale(loss).backward();
  } else {
    loss.backward();
  }
  torch::Tensor total = loss.detach().reshape({1}).clone();
  t.gang.SumGradients(f.model->parameters(), total);  // every member: the whole batch's
  const double value = total.item<double>();
  if (!std::isfinite(value)) {
    throw std::runtime_error(std::string("loss became ") + (std::isnan(value) ? "NaN" : "inf") +
                             " at epoch " + std::to_string(epoch) + " (lr " + std::to_string(lr) +
                             ")");
  }
  bool step = true;
  if (t.arithmetic.loss_scaling) {
    step = f.scaler.Unscale(f.model->parameters());  // an overflowing step is skipped
  }
  if (step && params.grad_clip > 0) {
    torch::nn::utils::clip_grad_norm_(f.model->parameters(), params.grad_clip);
  }
  if (step) f.optimizer->step();
  return value;
}

void TorchTrainer::FinishSwa(Trial& t, FoldModel& f) const {
  f.swa.CopyTo(*f.model);
  const ImageCache& cache = data_->train_images;
  const std::vector<int64_t>& images = f.split->train;
  const auto ranges =
      BatchRanges(static_cast<int64_t>(images.size()), t.params.batch_size, t.gang.size());
  // In a gang every member recomputes over its rows of each batch with the statistics
  // synchronised (whatever sync_bn says), so every member gets the single worker's statistics.
  if (f.bn_sync) f.bn_sync->enabled = true;
  size_t next = 0;
  RecomputeBatchNorm(
      *f.model,
      [&]() -> torch::Tensor {
        if (next == ranges.size()) return {};
        const auto [start, end] = ranges[next++];
        const auto [lo, hi] = t.gang.Shard(end - start);
        const std::vector<ImagePlan> plans(
            static_cast<size_t>(hi - lo), EvalPlan(t.params, cache.width(), cache.height(), false));
        return ToDevice(MakeBatch(cache, images.data() + start + lo, hi - lo, plans), device_,
                        t.arithmetic);
      },
      [&](const torch::Tensor& batch) { return f.model->forward(batch); });
  if (f.bn_sync) f.bn_sync->enabled = t.params.sync_bn;
}

std::shared_ptr<ClassifierImpl> TorchTrainer::BuildModel(const TrialParams& params,
                                                         uint64_t seed) const {
  const Dataset& data = *data_;
  std::shared_ptr<ClassifierImpl> model;
  {
    std::lock_guard<std::mutex> lock(InitialisationMutex());
    torch::manual_seed(seed);
    const std::string study_dir =
        study_.source_path.empty() ? "" : fs::path(study_.source_path).parent_path().string();
    model = MakeTrialModel(params, study_.data.format, data.num_classes, study_dir,
                           data.train_images.width(), data.train_images.height());
  }
  if (params.pretrained) {
    // A relative `weights` is relative to the study file, like every path in
    // it.
    fs::path weights(params.weights);
    if (weights.is_relative() && !study_.source_path.empty()) {
      weights = fs::path(study_.source_path).parent_path() / weights;
    }
    LoadWeights(*model, ResolveWeightFile(weights.string(), params.backbone),
                /*include_head=*/false);
  }
  if (params.freeze_backbone) FreezeBackbone(*model);
  return model;
}

TorchTrainer::FoldModel TorchTrainer::MakeFoldModel(Trial& t, const SplitIndices& split,
                                                    int fold) const {
  // Fold 0 (and a single split) uses the trial seed itself; further folds
  // derive their own, so their models start differently and shuffle
  // differently.
  const TrialParams& params = t.params;
  const uint64_t seed =
      fold == 0 ? t.request.seed
                : DeriveSeed(t.request.seed, StableHash("worker.fold." + std::to_string(fold)));
  const Dataset& data = *data_;
  FoldModel f;
  f.split = &split;
  f.model = BuildModel(params, seed);
  f.model->to(device_);
  if (t.arithmetic.channels_last) ToChannelsLast(*f.model);
  t.gang.BroadcastModel(*f.model, /*buffers_only=*/false);  // every member starts from rank 0's
  if (t.gang.active()) {
    f.bn_sync = t.gang.MakeBatchNormSync();
    f.bn_sync->enabled = params.sync_bn;
    AttachBatchNormSync(*f.model, f.bn_sync);
  }
  f.optimizer = MakeOptimizer(params, *f.model);
  // Their own streams, so that changing how weights are initialised never changes
  // the batch order or the augmentation.
  f.rng = Rng(DeriveSeed(seed, StableHash("worker.batches")));
  f.augment_seed = DeriveSeed(seed, StableHash("worker.augment"));
  std::vector<int> train_labels;
  for (int64_t i : split.train) {
    train_labels.push_back(data.train_listing[static_cast<size_t>(i)].label);
  }
  f.weights = MakeClassWeights(params.class_weighting, train_labels, data.num_classes, device_);
  f.order = split.train;
  return f;
}

void TorchTrainer::PredictValidation(Trial& t, FoldModel& fold) const {
  const ImageCache& cache = data_->train_images;
  fold.val_probs = Predict(t, fold, cache, fold.split->val, /*flipped=*/false);
  fold.val_flipped.clear();
  if (t.params.tta == "hflip") {
    fold.val_flipped = Predict(t, fold, cache, fold.split->val, /*flipped=*/true);
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
    const double loss = TrainEpoch(t, fold, epoch);
    // Per-member BatchNorm statistics (sync_bn false) differ: every member takes rank 0's.
    t.gang.BroadcastModel(*fold.model, /*buffers_only=*/true);
    train_loss += loss * static_cast<double>(fold.order.size());
    trained_images += static_cast<int64_t>(fold.order.size());
    if (params.swa && epoch >= params.swa_start &&
        (epoch - params.swa_start) % params.swa_freq == 0) {
      fold.swa.Add(*fold.model);
    }
    if (fold.swa.count() > 0 && epoch == params.epochs) {  // the last epoch evaluates the average
      FinishSwa(t, fold);
      swa_done = true;
    }
  }
  train_loss /= static_cast<double>(std::max<int64_t>(trained_images, 1));
  const auto trained = Clock::now();
  for (FoldModel& fold : t.folds) PredictValidation(t, fold);
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
  const bool go_on = Resume(t, result, swa_done, val_probs);
  if (!go_on) result.stopped_early = true;
  for (int epoch = result.epochs_completed + 1; go_on && epoch <= params.epochs; ++epoch) {
    KeepBestWeights(t);
    const EpochReport report = TrainAndValidate(t, epoch, swa_done, val_probs);
    result.metrics = report.metrics;
    result.epochs_completed = epoch;
    NoteEpoch(t, report);
    t.reports.push_back(report);
    if (epoch < params.epochs) SaveState(t, swa_done);  // before the report: a kill loses nothing
    if (!t.context.ReportEpoch(report)) {
      result.stopped_early = true;
      break;
    }
  }
  if (params.swa && !swa_done && t.folds.front().swa.count() > 0) {
    // Stopped early: the saved model is still the average.
    KeepBestWeights(t);
    for (FoldModel& fold : t.folds) {
      FinishSwa(t, fold);
      PredictValidation(t, fold);
    }
    val_probs = t.Gather(&FoldModel::val_probs);
    const double train_loss = result.metrics["train_loss"];
    result.metrics = ValidationMetrics(val_probs, t.val_truth, t.classes(),
                                       study_.data.format == DataFormat::kMask);
    result.metrics["train_loss"] = train_loss;
    // The average, at the epoch where it ended, is kept if it beats the best epoch.
    NoteEpoch(t, EpochReport{result.epochs_completed, result.metrics});
  }
  if (study_.objective.best_epoch && t.best_epoch > 0) val_probs = RestoreBest(t, result);
  if (params.swa) result.metrics["swa_snapshots"] = t.folds.front().swa.count();
  if (t.k_fold()) result.metrics["folds"] = static_cast<double>(t.folds.size());
  return val_probs;
}

void TorchTrainer::NoteEpoch(Trial& t, const EpochReport& report) const {
  if (!study_.objective.best_epoch) return;
  const auto it = report.metrics.find(study_.objective.metric);
  if (it == report.metrics.end() || !std::isfinite(it->second)) return;
  if (t.best_epoch > 0) {
    const double best = t.best_metrics.at(study_.objective.metric);
    if (study_.objective.maximize ? it->second <= best : it->second >= best) return;
  }
  t.best_epoch = report.epoch;
  t.best_metrics = report.metrics;
  t.best_is_current = true;
  for (FoldModel& fold : t.folds) {
    fold.best_val_probs = fold.val_probs;
    fold.best_val_flipped = fold.val_flipped;
    fold.best_state.clear();
  }
}

void TorchTrainer::KeepBestWeights(Trial& t) {
  if (!t.best_is_current) return;
  const auto start = Clock::now();
  for (FoldModel& fold : t.folds) fold.best_state = CopyState(*fold.model);
  t.best_is_current = false;
  Log(LogLevel::kDebug, "trial ", t.request.trial_number, ": epoch ", t.best_epoch,
      "'s weights kept in ", Seconds(Clock::now() - start), " s");
}

std::vector<float> TorchTrainer::RestoreBest(Trial& t, TrialResult& result) const {
  for (FoldModel& fold : t.folds) {
    if (!t.best_is_current) RestoreState(*fold.model, fold.best_state);
    fold.best_state.clear();
    fold.val_probs = std::move(fold.best_val_probs);
    fold.val_flipped = std::move(fold.best_val_flipped);
  }
  t.best_is_current = true;
  result.metrics = t.best_metrics;
  result.metrics["best_epoch"] = t.best_epoch;
  return t.Gather(&FoldModel::val_probs);
}

std::string TorchTrainer::StateIdentity(const Trial& t) const {
  return nlohmann::json{{"trial", t.request.trial_number},
                        {"seed", std::to_string(t.request.seed)},
                        {"params", t.request.params},
                        {"epochs", t.params.epochs},
                        {"folds", t.folds.size()},
                        {"gang", t.gang.size()},
                        {"objective", study_.objective.metric},
                        {"maximize", study_.objective.maximize},
                        {"best_epoch", study_.objective.best_epoch}}
      .dump();
}

// Written after every epoch but the last: each fold's weights, optimiser, batch-order generator
// and order, SWA mean, loss scale, latest and best predictions and best weights; the epochs'
// reports; torch's generators (dropout). The learning rate and the augmentation are functions of
// (seed, epoch, batch, image) and need no state.
void TorchTrainer::SaveState(Trial& t, bool swa_done) const {
  if (t.gang.rank() != 0) return;
  const auto start = Clock::now();
  torch::serialize::OutputArchive archive;
  archive.write("identity", c10::IValue(StateIdentity(t)));
  archive.write("epoch", c10::IValue(static_cast<int64_t>(t.reports.size())));
  nlohmann::json reports = nlohmann::json::array();
  for (const EpochReport& r : t.reports)
    reports.push_back({{"epoch", r.epoch}, {"metrics", r.metrics}});
  archive.write("reports", c10::IValue(reports.dump()));
  const nlohmann::json best = {{"epoch", t.best_epoch},
                               {"metrics", t.best_metrics},
                               {"current", t.best_is_current},
                               {"swa_done", swa_done}};
  archive.write("best", c10::IValue(best.dump()));
  archive.write("generator", at::globalContext().defaultGenerator(torch::kCPU).get_state());
  if (device_.is_cuda()) {
    archive.write("device_generator", at::globalContext().defaultGenerator(device_).get_state());
  }
  const auto tensors = [&archive](const std::string& key, const std::vector<torch::Tensor>& list) {
    archive.write(key + "_n", c10::IValue(static_cast<int64_t>(list.size())));
    for (size_t i = 0; i < list.size(); ++i) archive.write(key + "_" + std::to_string(i), list[i]);
  };
  for (size_t f = 0; f < t.folds.size(); ++f) {
    FoldModel& fold = t.folds[f];
    const std::string p = "fold" + std::to_string(f) + "_";
    tensors(p + "model", CopyState(*fold.model));
    torch::serialize::OutputArchive optimizer;
    fold.optimizer->save(optimizer);
    archive.write(p + "optimizer", optimizer);
    archive.write(p + "rng", RngTensor(fold.rng));
    archive.write(p + "order", Int64Tensor(fold.order));
    archive.write(p + "swa_count", c10::IValue(static_cast<int64_t>(fold.swa.count())));
    tensors(p + "swa", fold.swa.mean());
    const auto [scale, clean_steps] = fold.scaler.state();
    archive.write(p + "scaler", torch::tensor({scale, static_cast<double>(clean_steps)},
                                              torch::TensorOptions(torch::kFloat64)));
    archive.write(p + "val_probs", FloatTensor(fold.val_probs));
    archive.write(p + "val_flipped", FloatTensor(fold.val_flipped));
    archive.write(p + "best_val_probs", FloatTensor(fold.best_val_probs));
    archive.write(p + "best_val_flipped", FloatTensor(fold.best_val_flipped));
    tensors(p + "best_state", fold.best_state);
  }
  const fs::path path = StatePath(t.request);
  fs::create_directories(path.parent_path());
  const std::string temporary = path.string() + ".tmp";
  archive.save_to(temporary);
  fs::rename(temporary, path);
  Log(LogLevel::kDebug, "trial ", t.request.trial_number, ": state after epoch ", t.reports.size(),
      " saved in ", Seconds(Clock::now() - start), " s (", fs::file_size(path), " bytes)");
}

int TorchTrainer::ReadState(Trial& t, torch::serialize::InputArchive& archive) const {
  const fs::path path = StatePath(t.request);
  std::error_code error;
  if (!fs::exists(path, error)) return 0;
  try {
    archive.load_from(path.string());
    c10::IValue identity, epoch;
    archive.read("identity", identity);
    if (identity.toStringRef() != StateIdentity(t)) {
      Log(LogLevel::kInfo, "trial ", t.request.trial_number, ": ", path.string(),
          " is another trial's state; starting from epoch 1");
      return 0;
    }
    archive.read("epoch", epoch);
    const int64_t e = epoch.toInt();
    return e >= 1 && e < t.params.epochs ? static_cast<int>(e) : 0;
  } catch (const std::exception& e) {
    Log(LogLevel::kWarn, "trial ", t.request.trial_number, ": cannot read ", path.string(), " (",
        e.what(), "); starting from epoch 1");
    return 0;
  }
}

void TorchTrainer::ApplyState(Trial& t, torch::serialize::InputArchive& archive,
                              bool& swa_done) const {
  const auto text = [&archive](const std::string& key) {
    c10::IValue value;
    archive.read(key, value);
    return nlohmann::json::parse(value.toStringRef());
  };
  const auto integer = [&archive](const std::string& key) {
    c10::IValue value;
    archive.read(key, value);
    return value.toInt();
  };
  const auto tensor = [&archive](const std::string& key) {
    torch::Tensor value;
    archive.read(key, value);
    return value;
  };
  const auto tensors = [&](const std::string& key) {
    std::vector<torch::Tensor> list(static_cast<size_t>(integer(key + "_n")));
    for (size_t i = 0; i < list.size(); ++i) list[i] = tensor(key + "_" + std::to_string(i));
    return list;
  };
  t.reports.clear();
  for (const nlohmann::json& r : text("reports")) {
    t.reports.push_back({r.at("epoch").get<int>(), r.at("metrics").get<MetricMap>()});
  }
  const nlohmann::json best = text("best");
  t.best_epoch = best.at("epoch").get<int>();
  t.best_metrics = best.at("metrics").get<MetricMap>();
  t.best_is_current = best.at("current").get<bool>();
  swa_done = best.at("swa_done").get<bool>();
  at::Generator generator = at::globalContext().defaultGenerator(torch::kCPU);  // a handle
  generator.set_state(tensor("generator"));
  if (device_.is_cuda()) {
    at::Generator device_generator = at::globalContext().defaultGenerator(device_);
    device_generator.set_state(tensor("device_generator"));
  }
  for (size_t f = 0; f < t.folds.size(); ++f) {
    FoldModel& fold = t.folds[f];
    const std::string p = "fold" + std::to_string(f) + "_";
    RestoreState(*fold.model, tensors(p + "model"));
    torch::serialize::InputArchive optimizer;
    archive.read(p + "optimizer", optimizer);
    fold.optimizer->load(optimizer);
    fold.rng = RngFromTensor(tensor(p + "rng"));
    fold.order = Int64Vector(tensor(p + "order"));
    std::vector<torch::Tensor> mean = tensors(p + "swa");
    for (torch::Tensor& m : mean) m = m.to(device_);
    fold.swa.Restore(std::move(mean), static_cast<int>(integer(p + "swa_count")));
    const torch::Tensor scaler = tensor(p + "scaler");
    fold.scaler.Restore(scaler[0].item<double>(), static_cast<int>(scaler[1].item<double>()));
    fold.val_probs = FloatVector(tensor(p + "val_probs"));
    fold.val_flipped = FloatVector(tensor(p + "val_flipped"));
    fold.best_val_probs = FloatVector(tensor(p + "best_val_probs"));
    fold.best_val_flipped = FloatVector(tensor(p + "best_val_flipped"));
    fold.best_state = tensors(p + "best_state");
  }
}

bool TorchTrainer::Resume(Trial& t, TrialResult& result, bool& swa_done,
                          std::vector<float>& val_probs) const {
  torch::serialize::InputArchive archive;
  int epoch = ReadState(t, archive);
  if (t.gang.active()) {
    // Every member must resume from the same epoch (rank 0's state, read by all from the shared
    // artifact folder): the sums of e and e^2 over n members are n*e and n*e^2 only if all agree.
    const auto n = static_cast<float>(t.gang.size());
    std::vector<float> sums = {static_cast<float>(epoch), static_cast<float>(epoch * epoch)};
    t.gang.SumRows(sums);
    if (sums[0] != n * static_cast<float>(epoch) ||
        sums[1] != n * static_cast<float>(epoch * epoch)) {
      Log(LogLevel::kInfo, "trial ", t.request.trial_number,
          ": the gang's members found different states; starting from epoch 1");
      epoch = 0;
    }
  }
  if (epoch == 0) return true;
  ApplyState(t, archive, swa_done);
  val_probs = t.Gather(&FoldModel::val_probs);
  Log(LogLevel::kInfo, "trial ", t.request.trial_number, ": resumed after epoch ", epoch);
  for (const EpochReport& report : t.reports) {  // the coordinator forgot them: record them again
    result.metrics = report.metrics;
    result.epochs_completed = report.epoch;
    if (!t.context.ReportEpoch(report)) return false;
  }
  return true;
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
      const std::vector<float> p = Predict(t, fold, t.data.eval_images, all, mirror);
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
      fold.val_flipped = Predict(t, fold, t.data.train_images, fold.split->val, /*flipped=*/true);
    }
  }
  std::vector<float> val_flipped = t.Gather(&FoldModel::val_flipped);
  std::vector<float> eval_plain, eval_flipped;
  if (!t.data.eval_listing.empty()) PredictEval(t, eval_plain, eval_flipped);
  if (t.gang.rank() != 0) return;  // rank 0 records the gang's trial

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
    std::vector<float> eval_probs =
        t.params.tta == "hflip" ? MeanOfViews(eval_plain, eval_flipped) : eval_plain;
    WriteProbs((dir / "eval_probs.npy").string(), std::move(eval_probs), classes);
    add("eval_probs", dir / "eval_probs.npy");
    WriteProbs((dir / "eval_probs_hflip.npy").string(), std::move(eval_flipped), classes);
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
  const Arithmetic arithmetic = ResolveArithmetic(params, device_);
  const std::unique_ptr<Gang> gang = JoinGang(request, params, context);
  Trial t(request, context, params, data, arithmetic, *gang);
  LayOutValidation(t);
  for (size_t f = 0; f < t.splits.size(); ++f) {
    t.folds.push_back(MakeFoldModel(t, *t.splits[f], static_cast<int>(f)));
  }
  TrialResult result;
  std::vector<float> val_probs = TrainEpochs(t, result);
  WriteArtifacts(t, std::move(val_probs), result);
  if (gang->rank() == 0) {
    std::error_code ignored;  // the trial is over: its resumable state has served
    fs::remove(StatePath(request), ignored);
  }
  if (gang->active()) {
    const CommStats stats = gang->stats();
    Log(LogLevel::kDebug, "trial ", request.trial_number, " gang ", gang->Describe(), ": ",
        stats.allreduce_calls, " all-reduces, ", stats.allreduce_bytes, " bytes, ",
        stats.allreduce_seconds, " s");
  }
  return result;
}

}  // namespace

std::unique_ptr<Trainer> MakeTorchTrainer(const StudySpec& study, int threads, int device_slot,
                                          CommunicatorFactory communicators) {
  return std::make_unique<TorchTrainer>(study, threads, device_slot, std::move(communicators));
}

}  // namespace ensweep
