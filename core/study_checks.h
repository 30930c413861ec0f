// Checks of a loaded study that look across its blocks: the trial parameters against what the
// trainer reads, and keys that have no effect with the chosen method. Used by core/study.cc only.
#pragma once

#include "core/study.h"
#include "core/study_document.h"

namespace ensweep {

// torch: every space key must name a parameter of core/trial_params.h, and every constant,
// choice, range end and enqueue value must be a valid value of it (a uniform or log_uniform range
// only for a number parameter, an int range for a number or an integer one). Fails naming the
// key, the closest known name for a typo, or what was expected. branin and hartmann6: nothing to
// fail (their own x1.. are read when a trial runs); curve reads any parameter.
void CheckTrialParamsForTrainer(const Checker& c, const StudySpec& spec);

// Warns about keys given in `document` that the chosen method never reads: ensemble.size unless
// uniform; rounds, init, bags and bag_fraction unless greedy; top_n unless weights; the TPE keys
// of sampler unless tpe; pruner keys under pruner none (and reduction under median,
// startup_trials under asha and hyperband); trainer.noise unless curve; trainer.epoch_time
// under torch; space keys that branin and hartmann6 do not read.
void WarnIneffectiveKeys(const Checker& c, const Json& document, const StudySpec& spec);

}  // namespace ensweep
