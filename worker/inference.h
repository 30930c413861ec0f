// Applying trained trials to new images: the members' checkpoints run on decoded images
// (`ensweep predict`), or written out as one TorchScript module (`ensweep export`).
//
// This header is free of LibTorch: the `ensweep` executable fills an InferenceJob and hands it to
// the LibTorch module (worker/plugin.h), which runs it.
//
// A member's probabilities are made exactly as its trial made its eval predictions
// (worker/torch_trainer.h): each image decoded and resized to the study's image size
// (datagen/image_decode.h), the evaluation view (centre crop, ImageNet normalisation;
// worker/augment.h), the model in evaluation mode with the trial's arithmetic on the device
// (worker/arithmetic.h), probabilities from its head (worker/heads.h); with k folds the mean of
// the fold models' probabilities (each fold's share 1/k summed in fold order), and with `hflip`
// the mean of the plain and the mirrored view, each averaged over the folds first. So on the
// study's own eval images a member reproduces its trial's eval_probs.npy (hflip: the mean that
// `ensemble tta: hflip` forms from eval_probs and eval_probs_hflip).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/study.h"

namespace ensweep {

struct InferenceMember {
  int64_t trial = 0;                     // the trial's number (for messages)
  nlohmann::json params;                 // its parameters as recorded
  std::vector<std::string> checkpoints;  // model.pt, or one per fold in fold order
  bool hflip = false;                    // the mean of the plain and the mirrored view
  double weight = 1;                     // > 0; the blend's weight (export only)
};

struct InferenceJob {
  DataSpec data;                         // the study's data: format, image size
  std::string study_dir;                 // relative torchscript:<path> backbones are relative to it
  int num_classes = 0;                   // the study's classes (the single head's outputs)
  std::vector<std::string> class_names;  // export only: recorded in the module's description
  std::vector<InferenceMember> members;
  std::vector<std::string> images;  // predict: the image files, in output row order
  int batch_size = 0;  // images per forward pass; 0: each member's own, max(batch_size, 64)
  int threads = 1;     // LibTorch threads and image decoding threads
  std::string device = "auto";  // auto (CUDA when LibTorch sees a GPU) | cpu | cuda
  // predict: called after each group of images with (images done, total).
  std::function<void(int64_t, int64_t)> progress;
  // predict: when set, the decoded images (the models' uint8 input at the study's size) are also
  // written there as an (N, height, width, 3) uint8 .npy.
  std::string save_inputs;
};

// One matrix per member (images x num_classes), in job.members' order. Images are decoded in
// groups, so memory stays bounded whatever the number of images. Throws UserError for an
// unreadable image (naming it), an unreadable checkpoint (naming the trial and the file), a
// checkpoint that does not fit the member's parameters, or device cuda without a GPU.
std::vector<Matrix> PredictMembers(const InferenceJob& job);

// Writes a TorchScript module to `path` whose forward(images) takes an (N, H, W, 3) uint8 RGB
// batch of any H and W and returns (N, num_classes) float32 probabilities: the images resized to
// the study's size as ensweep resizes decoded pixels (ResizeRgb: area average when shrinking,
// bilinear when enlarging, per axis), then each member as PredictMembers computes it (float32 on
// the CPU, whatever precision the trial trained with), blended with the members' weights
// (normalised; summed in double, as ensemble/blend.h). It loads in Python with torch.jit.load
// alone. Throws UserError for a backbone it cannot write (torchscript:<path> backbones) and like
// PredictMembers for checkpoints.
void ExportTorchScript(const InferenceJob& job, const std::string& path);

}  // namespace ensweep
