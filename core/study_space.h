// The study file's `space` block: parameters, their domains and `when` conditions. Used by
// core/study.cc only.
#pragma once

#include <vector>

#include "core/study.h"
#include "core/study_document.h"

namespace ensweep {

// The parameters of a `space` mapping, ordered so that each follows every parameter its `when`
// names. Rejects unknown keys, empty or inverted domains, conditions on unknown parameters or on
// impossible values, and cycles.
std::vector<ParamSpec> ParseSpace(const Checker& c, const Json& space);

// Whether `v` is a value parameter `p` can take.
bool ValueInDomain(const ParamSpec& p, const Json& v);

// `p` as the study file writes it (the inverse of parsing it).
Json ParamToJson(const ParamSpec& p);

}  // namespace ensweep
