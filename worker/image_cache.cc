#include "worker/image_cache.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"
#include "worker/image_decode.h"

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

  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;
  int running = std::max(1, std::min<int>(threads, static_cast<int>(paths.size())));
  std::vector<Failure> failures;      // guarded by mutex
  std::exception_ptr internal_error;  // guarded by mutex; not a data problem
  std::atomic<bool> abort{false};     // set on an internal error: no point going on

  auto work = [&] {
    for (int64_t i = next++; i < cache.count_ && !abort; i = next++) {
      try {
        DecodeImageFileResized(paths[static_cast<size_t>(i)], width, height,
                               cache.pixels_.data() + i * cache.image_bytes());
      } catch (const UserError& e) {
        std::lock_guard<std::mutex> lock(mutex);
        failures.push_back({i, e.what()});
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!internal_error) internal_error = std::current_exception();
        abort = true;
      }
      ++done;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (--running == 0) finished.notify_all();
  };

  std::vector<std::thread> workers;
  const int spawn = running;
  workers.reserve(static_cast<size_t>(spawn));
  for (int t = 0; t < spawn; ++t) workers.emplace_back(work);
  {
    // The waiting thread is the one that owns the TrialContext, so heartbeats go out from here.
    std::unique_lock<std::mutex> lock(mutex);
    while (!finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; })) {
      lock.unlock();
      try {
        if (keep_alive) keep_alive();
        if (progress) progress(done.load(), cache.count_);
      } catch (...) {
        // Threads must be joined before anything propagates; stop them and rethrow below.
        abort = true;
        lock.lock();
        if (!internal_error) internal_error = std::current_exception();
        continue;
      }
      lock.lock();
    }
  }
  for (std::thread& t : workers) t.join();
  if (progress && !internal_error) progress(done.load(), cache.count_);

  if (internal_error) std::rethrow_exception(internal_error);
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
