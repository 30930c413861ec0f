// A trial's model built from its parameters, and its class probabilities on cached images: shared
// by the trainer (worker/torch_trainer.cc) and inference (worker/inference.cc), so that a model is
// built and predicts the same way wherever it runs.
//
// Worker-internal (includes LibTorch).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/study.h"
#include "worker/arithmetic.h"
#include "worker/augment.h"
#include "worker/image_cache.h"
#include "worker/models.h"
#include "worker/trial_params.h"

namespace ensweep {

// A freshly initialised model for `params`: the custom CNN without BatchNorm for norm none, else
// the backbone (MakeClassifier, torchscript:<path> relative to `study_dir`, probed at width x
// height), with the head's outputs for the data format and classes (worker/heads.h). Draws from
// torch's global generator (seed it first). Throws as MakeClassifier.
std::shared_ptr<ClassifierImpl> MakeTrialModel(const TrialParams& params, DataFormat format,
                                               int num_classes, const std::string& study_dir,
                                               int width, int height);

// Builds an (n, 3, H, W) float batch straight from the cached HWC bytes of images
// indices[0..n), one plan per image (worker/augment.h): one allocation per batch, none per image.
torch::Tensor MakeBatch(const ImageCache& cache, const int64_t* indices, int64_t n,
                        const std::vector<ImagePlan>& plans);

// Class probabilities of images indices[0..n) of `cache` under `model` (put in evaluation mode),
// one view (the evaluation crop of `params`, mirrored when `flipped`), in batches of `batch_size`
// on `device` with `arithmetic`, probabilities from the head of `params`: written row-major to
// out[0 .. n * num_classes). `after_batch`, when set, is called after every batch.
void PredictRows(ClassifierImpl& model, const ImageCache& cache, const int64_t* indices, int64_t n,
                 const TrialParams& params, int batch_size, int num_classes, bool flipped,
                 const torch::Device& device, const Arithmetic& arithmetic, float* out,
                 const std::function<void()>& after_batch = {});

}  // namespace ensweep
