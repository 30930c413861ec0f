// Built-in objectives as Trainers: a study with `trainer: {type: branin | hartmann6 | curve}` runs
// through the real coordinator, transports, workers and store without LibTorch, so that samplers,
// pruners and the orchestration can be tested and benchmarked in seconds.
//
//   branin     reads parameters x1, x2; reports Branin(x1, x2) (minimise; 0.397887 at best).
//   hartmann6  reads x1..x6 in [0, 1]; reports Hartmann6(x) (minimise; -3.32237 at best).
//   curve      reads every parameter of the space; reports a simulated validation accuracy per
//              epoch (maximise; see CurveSimulator in functions.h), noise `trainer.noise`.
// Each reports its value under the study's objective metric after every epoch (curve also
// reports `noiseless`, the same value without the noise), sleeping `trainer.epoch_time` per epoch
// to stand for training time, and honours
// STOP from the pruner. Under `objective.scope: best` the result's metrics are its best epoch's
// (the first of equal values) with `best_epoch` added; under `last`, the last epoch's. They write
// no artifacts. A missing or non-numeric parameter throws
// std::invalid_argument (the trial is FAILED with the message).
// Thread-compatible: one trainer per worker, as worker_loop.h expects.
#pragma once

#include <memory>

#include "core/study.h"
#include "core/trainer.h"

namespace ensweep {

// The trainer for spec.trainer.type; throws std::invalid_argument for "torch" (not built here).
std::unique_ptr<Trainer> MakeObjectiveTrainer(const StudySpec& spec);

}  // namespace ensweep
