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
//     same request on the same device and thread count gives the same metrics. Weights are
//     initialised from torch's process-wide generator under a process-wide lock (trainers on
//     several threads take turns); dropout and stochastic depth (efficientnet_b0) draw from that
//     generator unlocked.
//   - Every epoch: train on shuffled batches, each assembled on a helper thread while the model
//     trains on the one before (augmentation per worker/augment.h, each image's plan drawn from
//     its own stream seeded by (trial seed, epoch, image), so an image is augmented the same way
//     whichever gang member draws it; ImageNet normalisation; learning rate per batch per
//     worker/schedule.h; optional gradient clipping), then evaluate on validation (centre crop;
//     hflip TTA if asked) and ReportEpoch {train_loss, lr, val_loss, val_accuracy, val_macro_f1,
//     val_{mask,gender,age}_{accuracy,f1}}. A false answer stops training (stopped_early). A NaN
//     or infinite loss throws std::runtime_error naming the epoch.
//   - SWA: the weights at the end of epochs swa_start, swa_start + swa_freq, ... are averaged; on
//     the last epoch (or after a STOP) the average replaces the weights and BatchNorm statistics
//     are recomputed over the training images, so the last report, the result's metrics, the
//     predictions and the checkpoint are the averaged model's (metric swa_snapshots: how many).
//   - objective.scope best (the study's default): after every epoch whose objective (the
//     study's metric and direction; non-finite values never count) beats every earlier epoch's,
//     the trainer keeps that epoch's report and validation predictions, and copies its weights to
//     the CPU (host memory, one copy per fold) before the next epoch trains, so a copy is paid
//     only by an improving epoch that is not the last. At the end (after the last epoch or a
//     STOP) the models get those weights back: the result's metrics are that epoch's report plus
//     best_epoch, and every artifact below (predictions, checkpoints, eval predictions) is that
//     epoch's. With k folds the folds train side by side epoch by epoch, so one epoch is chosen on
//     the out-of-fold metric and every fold keeps its weights of that epoch. With SWA, an average
//     finished after a STOP competes as the epoch it ended at. scope last: the last model.
//     Every epoch is reported either way.
//   - Artifacts in request.artifact_dir: model.pt (checkpoint; torch::load into the same backbone
//     and head), val_probs.npy (18-class probabilities, one row per validation image in ascending
//     listing order, float32), val_index.csv (row,path,person,label for those rows),
//     confusion.csv (18 x 18 validation counts, one row per true class; written, not recorded)
//     and, with eval data, eval_probs.npy (rows in info.csv order). They are written for stopped
//     trials too.
//   - Gang trials (request.gang.size N > 1; worker/gang.h): the member joins its communicator
//     (`communicators`, or ConnectGang) and every member trains the same model data-parallel.
//     `batch_size` is the GLOBAL batch (at least N): every member shuffles the same order, each
//     batch is split into N contiguous slices (uneven allowed; a lone last image, and with N > 2 a
//     last batch of fewer than N images, is folded into the one before), each member's loss is its
//     slice's share of the batch's mean loss (worker/heads.h HeadLossShare), and the gradients are
//     summed over the gang after backward, so every member takes the single worker's step (up to
//     float summation order). Rank 0's parameters and buffers are broadcast after the model is
//     built, and its buffers after every epoch. BatchNorm normalises per member's slice unless
//     `sync_bn` (worker/batch_norm.h: statistics over the global batch). Validation and eval images
//     are split over the members and the predictions summed into every member's full matrix, so
//     every member reports the single worker's metrics; SWA's BatchNorm recompute always
//     synchronises. Every member calls ReportEpoch after every epoch and stops on a false answer;
//     only rank 0 writes artifacts (the others return no artifacts). A communicator failure throws
//     std::runtime_error naming the gang, the member and the operation.
//
// Not thread-safe: one Run at a time (a worker runs one trial at a time).
#pragma once

#include <functional>
#include <memory>

#include "core/study.h"
#include "core/trainer.h"

namespace c10 {
struct Device;  // torch::Device
}

namespace ensweep {

class Communicator;  // worker/communicator.h

// Joins a gang trial's communicator for this member (called once per gang trial, before the
// model is built). The default is ConnectGang (worker/communicator.h); tests pass in-memory
// group members.
using CommunicatorFactory = std::function<std::unique_ptr<Communicator>(
    const GangInfo& gang, TrialContext& context, const c10::Device& device)>;

// `threads` (>= 1) sets LibTorch's intra-op threads for the whole process and the number of image
// decoding threads. The study is copied. Trains on CUDA device `device_slot % n` when LibTorch
// sees n >= 1 GPUs (orchestrator/gpu_slots.h says how workers get their slots), else on the CPU.
// `communicators` joins gang trials (empty: ConnectGang).
std::unique_ptr<Trainer> MakeTorchTrainer(const StudySpec& study, int threads, int device_slot = 0,
                                          CommunicatorFactory communicators = {});

}  // namespace ensweep
