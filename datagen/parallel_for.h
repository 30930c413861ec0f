// Runs independent pieces of work on all cores (private to datagen).
#pragma once

#include <functional>

namespace ensweep::datagen {

// Calls body(i) for every i in [0, count), on up to std::thread::hardware_concurrency() threads,
// in no particular order; body must be safe to run concurrently for different i. progress(done,
// count), if given, is called on the calling thread only, with done increasing. If body throws,
// the remaining items are skipped and the first exception is rethrown on the calling thread once
// every thread has stopped.
void ParallelFor(int count, const std::function<void(int)>& body,
                 const std::function<void(int, int)>& progress);

}  // namespace ensweep::datagen
