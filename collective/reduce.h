// The elementwise sum every host backend uses, so that "local" and "tcp" add in the same order.
#pragma once

#include <cstddef>

#include "collective/collective.h"

namespace ensweep::collective {

// accumulator[i] += addend[i] for `count` elements of `dtype`.
void AddInto(void* accumulator, const void* addend, size_t count, DType dtype);

}  // namespace ensweep::collective
