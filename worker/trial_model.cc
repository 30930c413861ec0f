#include "worker/trial_model.h"

#include <torch/torch.h>

#include <algorithm>

#include "worker/heads.h"

namespace ensweep {

std::shared_ptr<ClassifierImpl> MakeTrialModel(const TrialParams& params, DataFormat format,
                                               int num_classes, const std::string& study_dir,
                                               int width, int height) {
  const int outputs = HeadOutputs(params.head, OptionName(format), num_classes);
  if (params.norm == "none") return std::make_shared<CustomCnnImpl>(outputs, /*batch_norm=*/false);
  return MakeClassifier(params.backbone, outputs, study_dir, width, height);
}

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

void PredictRows(ClassifierImpl& model, const ImageCache& cache, const int64_t* indices, int64_t n,
                 const TrialParams& params, int batch_size, int num_classes, bool flipped,
                 const torch::Device& device, const Arithmetic& arithmetic, float* out,
                 const std::function<void()>& after_batch) {
  torch::NoGradGuard no_grad;
  model.eval();
  const std::vector<ImagePlan> plans(static_cast<size_t>(batch_size),
                                     EvalPlan(params, cache.width(), cache.height(), flipped));
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min<int64_t>(batch_size, n - start);
    torch::Tensor batch =
        ToDevice(MakeBatch(cache, indices + start, count, plans), device, arithmetic);
    torch::Tensor p;
    {
      AutocastScope autocast(arithmetic, device);
      p = HeadProbabilities(model.forward(batch).to(torch::kFloat32), params.head);
    }
    p = p.to(torch::kCPU).contiguous();
    std::copy(p.data_ptr<float>(), p.data_ptr<float>() + count * num_classes,
              out + start * num_classes);
    if (after_batch) after_batch();
  }
}

}  // namespace ensweep
