#include "datagen/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ensweep::datagen {

void ParallelFor(int count, const std::function<void(int)>& body,
                 const std::function<void(int, int)>& progress) {
  if (count <= 0) return;
  const int threads =
      std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, std::min(count, 32));
  std::atomic<int> next{0};
  std::mutex mutex;
  std::condition_variable changed;
  int done = 0;
  int running = threads;
  std::exception_ptr error;

  const auto work = [&] {
    for (;;) {
      const int index = next.fetch_add(1);
      if (index >= count) break;
      try {
        body(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        next.store(count);  // skip whatever is left
        break;
      }
      std::lock_guard<std::mutex> lock(mutex);
      ++done;
      changed.notify_one();
    }
    std::lock_guard<std::mutex> lock(mutex);
    --running;
    changed.notify_one();
  };

  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (...) {  // could not start another thread: go on with those that run
      std::lock_guard<std::mutex> lock(mutex);
      running -= threads - t;
      if (t == 0) error = std::current_exception();
      break;
    }
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    int reported = 0;
    // Leaves only when every thread has stopped and the last count has been reported.
    for (;;) {
      changed.wait(lock, [&] { return done != reported || running == 0; });
      if (done == reported) break;
      reported = done;
      if (!progress || error) continue;
      lock.unlock();
      std::exception_ptr progress_error;
      try {
        progress(reported, count);  // outside the lock: the callback may be slow
      } catch (...) {
        progress_error = std::current_exception();
      }
      lock.lock();
      if (progress_error && !error) {
        error = progress_error;
        next.store(count);
      }
    }
  }
  for (auto& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ensweep::datagen
