// The LibTorch trainer: trains one image classifier per trial on the study's data.
//
// This header is free of LibTorch so that the worker loop and apps compile without it; the
// implementation (worker/torch_trainer.cc) is the only place that drives training.
//
// Behaviour, in the order a trial sees it:
//   - Parameters (TrialRequest::params) are validated first (worker/trial_params.h): an unknown
//     name or a bad value throws std::invalid_argument before any work.
//   - The first Run lists, splits and decodes the study's data (worker/dataset.h) and keeps it for
//     the trainer's lifetime; later trials reuse it. KeepAlive is called during the decode. If
//     the load fails (unsupported format, unreadable image), every later Run rethrows that error
//     without retrying: fix the data and restart the worker.
//   - The model is MakeClassifier(backbone) with 18 (head single) or 8 (head multitask) outputs
//     (worker/heads.h). With pretrained, the backbone's weights come from `weights` (a relative
//     path is relative to the study file; worker/weights.h; a mismatch fails the trial) and the
//     head stays freshly initialised; freeze_backbone trains the head only.
//   - Training is seeded from TrialRequest::seed alone (weights, shuffling, augmentation), so the
//     same request on the same device and thread count gives the same metrics.
//   - Every epoch: train on shuffled batches, each assembled on a helper thread while the model
//     trains on the one before (augmentation per worker/augment.h, drawn in order on the trial's
//     Rng; ImageNet normalisation; learning rate per batch per worker/schedule.h; optional
//     gradient clipping), then evaluate on validation (centre crop; hflip TTA if asked) and
//     ReportEpoch {train_loss, lr, val_loss, val_accuracy, val_macro_f1,
//     val_{mask,gender,age}_{accuracy,f1}}. A false answer stops training (stopped_early). A NaN
//     or infinite loss throws std::runtime_error naming the epoch.
//   - SWA: the weights at the end of epochs swa_start, swa_start + swa_freq, ... are averaged; on
//     the last epoch (or after a STOP) the average replaces the weights and BatchNorm statistics
//     are recomputed over the training images, so the last report, the result's metrics, the
//     predictions and the checkpoint are the averaged model's (metric swa_snapshots: how many).
//   - Artifacts in request.artifact_dir: model.pt (checkpoint; torch::load into the same backbone
//     and head), val_probs.npy (18-class probabilities, one row per validation image in ascending
//     listing order, float32), val_index.csv (row,path,person,label for those rows),
//     confusion.csv (18 x 18 validation counts, one row per true class; written, not recorded)
//     and, with eval data, eval_probs.npy (rows in info.csv order). They are written for stopped
//     trials too.
//
// Not thread-safe: one Run at a time (a worker runs one trial at a time).
#pragma once

#include <memory>

#include "core/study.h"
#include "core/trainer.h"

namespace ensweep {

// `threads` (>= 1) sets LibTorch's intra-op threads for the whole process and the number of image
// decoding threads. The study is copied. Trains on CUDA device `device_slot % n` when LibTorch
// sees n >= 1 GPUs (orchestrator/gpu_slots.h says how workers get their slots), else on the CPU.
std::unique_ptr<Trainer> MakeTorchTrainer(const StudySpec& study, int threads, int device_slot = 0);

}  // namespace ensweep
