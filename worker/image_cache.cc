#include "worker/image_cache.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <utility>

#include "core/error.h"
#include "core/parallel_for.h"
#include "datagen/image_decode.h"

namespace ensweep {
namespace {

constexpr int kMaxListedFailures = 10;

struct Failure {
  int64_t index;
  std::string message;
};

}  // namespace

ImageCache ImageCache::Decode(const std::vector<std::string>& paths, int width, int height,
                              int threads, const std::function<void()>& keep_alive,
                              const std::function<void(int64_t, int64_t)>& progress) {
  ImageCache cache;
  cache.count_ = static_cast<int64_t>(paths.size());
  cache.width_ = width;
  cache.height_ = height;
  cache.pixels_.resize(static_cast<size_t>(cache.count_ * cache.image_bytes()));
  if (paths.empty()) return cache;

  std::mutex mutex;
  std::vector<Failure> failures;  // guarded by mutex
  ParallelOptions parallel;
  parallel.threads = std::max(1, threads);
  // The waiting thread is the one that owns the TrialContext, so heartbeats go out from there.
  parallel.every = std::chrono::milliseconds(100);
  parallel.progress = [&](int64_t done, int64_t total) {
    if (keep_alive) keep_alive();
    if (progress) progress(done, total);
  };
  ParallelFor(
      cache.count_,
      [&](int64_t i) {
        try {
          DecodeImageFileResized(paths[static_cast<size_t>(i)], width, height,
                                 cache.pixels_.data() + i * cache.image_bytes());
        } catch (const UserError& e) {  // a data problem: go on, list them all at the end
          std::lock_guard<std::mutex> lock(mutex);
          failures.push_back({i, e.what()});
        }
      },
      parallel);

  if (!failures.empty()) {
    std::sort(failures.begin(), failures.end(),
              [](const Failure& a, const Failure& b) { return a.index < b.index; });
    std::string message = std::to_string(failures.size()) + " of " + std::to_string(paths.size()) +
                          " images could not be decoded:";
    for (size_t i = 0; i < failures.size() && i < kMaxListedFailures; ++i) {
      message += "\n  " + failures[i].message;
    }
    if (failures.size() > kMaxListedFailures) {
      message += "\n  ... and " + std::to_string(failures.size() - kMaxListedFailures) + " more";
    }
    throw UserError(message);
  }
  return cache;
}

}  // namespace ensweep
