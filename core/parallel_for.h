// The project's one way to run independent pieces of work on several threads (datagen's
// rendering, the ensemble's selection, the worker's image decoding).
//
// Exceptions are carried to the calling thread: when a call of body throws, the items not yet
// started are skipped, every thread is joined, and the first exception is rethrown from
// ParallelFor. No thread outlives the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace ensweep {

// `threads` if positive, else one per hardware thread (at least 1).
int ThreadCount(int threads);

struct ParallelOptions {
  int threads = 0;  // at most this many threads run body; 0: ThreadCount(0)
  // If set, called on the calling thread only (which then runs no body itself), with done
  // increasing and, last, done == count once every thread has stopped (not after a failure).
  // With `every` zero it is called each time items have finished; with `every` positive, about
  // every `every` whether or not any finished (for heartbeats during slow items), and once at the
  // end. An exception from progress stops the work like one from body.
  std::function<void(int64_t done, int64_t count)> progress;
  std::chrono::milliseconds every{0};
};

// Calls body(i) for every i in [0, count), in no particular order, on up to options.threads
// threads (never more than count); body must be safe to run concurrently for different i. Without
// progress the calling thread runs items too.
void ParallelFor(int64_t count, const std::function<void(int64_t)>& body,
                 const ParallelOptions& options = {});

// Calls body(begin, end) on up to `threads` (0: ThreadCount(0)) contiguous chunks of [0, count)
// of equal size (the last one shorter), the first chunk on the calling thread: for loops whose
// items are too cheap to hand out one by one. Exceptions as ParallelFor.
void ParallelChunks(int64_t count, int threads,
                    const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace ensweep
