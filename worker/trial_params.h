// The trial parameters the worker trains with. Their table, TrialParams and ParseTrialParams live
// in core/trial_params.h (torch-free, so that the study loader checks a space against the same
// table); the worker's files include them from here.
#pragma once

#include "core/trial_params.h"
