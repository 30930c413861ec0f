#include "worker/inference.h"

#include <c10/core/DeviceGuard.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "core/error.h"
#include "worker/arithmetic.h"
#include "worker/augment.h"
#include "worker/heads.h"
#include "worker/image_cache.h"
#include "worker/member_models.h"
#include "worker/models.h"
#include "worker/trial_model.h"
#include "worker/trial_params.h"

namespace ensweep {
namespace {

// Images decoded and predicted at a time: memory stays bounded, progress is reported per group.
constexpr int64_t kGroupImages = 1024;

torch::Device ChooseDevice(const std::string& wanted) {
  const bool cuda = torch::cuda::is_available();
  if (wanted == "cuda" && !cuda) {
    throw UserError("--device cuda: LibTorch sees no CUDA device here (use --device cpu or auto)");
  }
  if (wanted == "cpu" || !cuda) return torch::Device(torch::kCPU);
  return torch::Device(torch::kCUDA, 0);
}

// One view (plain or mirrored) of a member on the images of `cache`: the mean of its fold models'
// probabilities, each fold's share 1/k summed in fold order, as the trainer's PredictEval.
std::vector<float> FoldMean(const LoadedMember& member, const InferenceJob& job,
                            const ImageCache& cache, bool flipped, const torch::Device& device) {
  const int classes = job.num_classes;
  const int batch_size =
      job.batch_size > 0 ? job.batch_size : std::max(member.params.batch_size, 64);
  const float share = 1.0f / static_cast<float>(member.folds.size());
  std::vector<int64_t> all(static_cast<size_t>(cache.size()));
  std::iota(all.begin(), all.end(), int64_t{0});
  std::vector<float> sum(static_cast<size_t>(cache.size() * classes), 0.0f);
  std::vector<float> p(sum.size());
  for (const auto& model : member.folds) {
    PredictRows(*model, cache, all.data(), cache.size(), member.params, batch_size, classes,
                flipped, device, member.arithmetic, p.data());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += share * p[i];
  }
  return sum;
}

// An (N, height, width, 3) uint8 .npy written group by group.
class InputsWriter {
 public:
  InputsWriter(const std::string& path, int64_t n, int height, int width) : path_(path) {
    if (path.empty()) return;
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) throw UserError("cannot write " + path);
    std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(n) +
                         ", " + std::to_string(height) + ", " + std::to_string(width) + ", 3), }";
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    const uint16_t length = static_cast<uint16_t>(header.size());
    out_.write("\x93NUMPY\x01\x00", 8);
    out_.put(static_cast<char>(length & 0xff));
    out_.put(static_cast<char>(length >> 8));
    out_ << header;
  }
  void Append(const ImageCache& cache) {
    if (path_.empty()) return;
    out_.write(reinterpret_cast<const char*>(cache.image(0)), cache.size() * cache.image_bytes());
    if (!out_) throw UserError("cannot write " + path_);
  }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace

std::string MemberName(const InferenceMember& member) {
  return "trial " + std::to_string(member.trial);
}

LoadedMember LoadMember(const InferenceJob& job, const InferenceMember& member,
                        const torch::Device& device) {
  LoadedMember loaded;
  try {
    loaded.params = ParseTrialParams(member.params, 1);
  } catch (const std::exception& e) {
    throw UserError(MemberName(member) + ": its recorded parameters do not parse: " + e.what());
  }
  if (member.checkpoints.empty()) throw UserError(MemberName(member) + ": no checkpoint to load");
  // fp16 runs on CUDA only; on the CPU such a trial predicts in fp32.
  if (loaded.params.precision == "fp16" && !device.is_cuda()) loaded.params.precision = "fp32";
  loaded.arithmetic = ResolveArithmetic(loaded.params, device);
  for (const std::string& path : member.checkpoints) {
    std::shared_ptr<ClassifierImpl> model;
    try {
      model = MakeTrialModel(loaded.params, job.data.format, job.num_classes, job.study_dir,
                             job.data.width, job.data.height);
      torch::serialize::InputArchive archive;
      archive.load_from(path, torch::Device(torch::kCPU));
      model->load(archive);
    } catch (const UserError& e) {
      throw UserError(MemberName(member) + ": " + e.what());
    } catch (const std::exception& e) {
      throw UserError(MemberName(member) + ": cannot load its checkpoint " + path + " into a " +
                      loaded.params.backbone + " model (" + std::string(e.what()).substr(0, 300) +
                      ")");
    }
    model->to(device);
    if (loaded.arithmetic.channels_last) ToChannelsLast(*model);
    model->eval();
    loaded.folds.push_back(model);
  }
  return loaded;
}

std::vector<Matrix> PredictMembers(const InferenceJob& job) {
  torch::set_num_threads(std::max(1, job.threads));
  const torch::Device device = ChooseDevice(job.device);
  c10::OptionalDeviceGuard device_guard;
  if (device.is_cuda()) device_guard.reset_device(device);
  std::vector<LoadedMember> members;
  for (const InferenceMember& member : job.members)
    members.push_back(LoadMember(job, member, device));
  const int64_t total = static_cast<int64_t>(job.images.size());
  std::vector<Matrix> out(members.size());
  for (Matrix& m : out) {
    m.rows = total;
    m.cols = job.num_classes;
    m.values.assign(static_cast<size_t>(total * job.num_classes), 0.0f);
  }
  InputsWriter inputs(job.save_inputs, total, job.data.height, job.data.width);
  for (int64_t first = 0; first < total; first += kGroupImages) {
    const int64_t n = std::min(kGroupImages, total - first);
    const std::vector<std::string> paths(job.images.begin() + first,
                                         job.images.begin() + first + n);
    const ImageCache cache =
        ImageCache::Decode(paths, job.data.width, job.data.height, std::max(1, job.threads));
    inputs.Append(cache);
    for (size_t m = 0; m < members.size(); ++m) {
      std::vector<float> probs = FoldMean(members[m], job, cache, false, device);
      if (job.members[m].hflip) {  // the trainer's MeanOfViews
        const std::vector<float> mirrored = FoldMean(members[m], job, cache, true, device);
        for (size_t i = 0; i < probs.size(); ++i) probs[i] = 0.5f * (probs[i] + mirrored[i]);
      }
      std::copy(probs.begin(), probs.end(), out[m].values.begin() + first * job.num_classes);
    }
    if (job.progress) job.progress(first + n, total);
  }
  return out;
}

}  // namespace ensweep
