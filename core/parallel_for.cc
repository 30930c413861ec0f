#include "core/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ensweep {
namespace {

// The state the threads of one ParallelFor share.
class Work {
 public:
  Work(int64_t count, const std::function<void(int64_t)>& body, bool counting)
      : count_(count), body_(body), counting_(counting) {}

  // Runs items until none are left or one failed.
  void Run() {
    for (;;) {
      const int64_t index = next_.fetch_add(1);
      if (index >= count_) break;
      try {
        body_(index);
      } catch (...) {
        Fail(std::current_exception());
        break;
      }
      ++done_;
      if (counting_) {
        std::lock_guard<std::mutex> lock(mutex_);
        changed_.notify_one();
      }
    }
  }

  // A worker thread's body: Run, then say it stopped.
  void RunThenStop() {
    Run();
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    changed_.notify_one();
  }

  // Records the first failure and skips whatever is left.
  void Fail(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
    next_.store(count_);
  }

  // Starts up to `threads` threads running RunThenStop. A thread that cannot be started is not an
  // error while another runs the items: only when none starts and `must_start`.
  void Start(int threads, bool must_start, std::vector<std::thread>& pool) {
    pool.reserve(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      try {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ++running_;
        }
        pool.emplace_back([this] { RunThenStop(); });
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        --running_;
        if (t == 0 && must_start) {
          if (!error_) error_ = std::current_exception();
          next_.store(count_);
        }
        break;
      }
    }
  }

  // On the calling thread: reports progress until every started thread has stopped.
  void Watch(const ParallelOptions& options) {
    std::unique_lock<std::mutex> lock(mutex_);
    int64_t reported = 0;
    for (;;) {
      if (options.every.count() > 0) {
        if (changed_.wait_for(lock, options.every, [&] { return running_ == 0; })) break;
      } else {
        changed_.wait(lock, [&] { return done_.load() != reported || running_ == 0; });
        if (done_.load() == reported) break;  // and every thread has stopped
      }
      reported = done_.load();
      if (error_) continue;
      lock.unlock();
      std::exception_ptr progress_error;
      try {
        options.progress(reported, count_);  // outside the lock: the callback may be slow
      } catch (...) {
        progress_error = std::current_exception();
      }
      lock.lock();
      if (progress_error && !error_) {
        error_ = progress_error;
        next_.store(count_);
      }
    }
  }

  // After every thread has been joined.
  std::exception_ptr error() const { return error_; }
  int64_t done() const { return done_.load(); }

 private:
  const int64_t count_;
  const std::function<void(int64_t)>& body_;
  const bool counting_;  // wake the watcher after each item
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> done_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  int running_ = 0;           // guarded by mutex_
  std::exception_ptr error_;  // guarded by mutex_
};

}  // namespace

int ThreadCount(int threads) {
  return threads > 0 ? threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void ParallelFor(int64_t count, const std::function<void(int64_t)>& body,
                 const ParallelOptions& options) {
  if (count <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(ThreadCount(options.threads), count));
  const bool watching = static_cast<bool>(options.progress);
  Work work(count, body, watching && options.every.count() == 0);
  std::vector<std::thread> pool;
  if (watching) {
    work.Start(threads, /*must_start=*/true, pool);
    work.Watch(options);
  } else {
    work.Start(threads - 1, /*must_start=*/false, pool);
    work.Run();
  }
  for (auto& thread : pool) thread.join();
  if (work.error()) std::rethrow_exception(work.error());
  if (watching && options.every.count() > 0) options.progress(work.done(), count);
}

void ParallelChunks(int64_t count, int threads,
                    const std::function<void(int64_t begin, int64_t end)>& body) {
  if (count <= 0) return;
  const int64_t parts = std::clamp<int64_t>(ThreadCount(threads), 1, count);
  const int64_t chunk = (count + parts - 1) / parts;
  const int64_t chunks = (count + chunk - 1) / chunk;
  ParallelOptions options;
  options.threads = static_cast<int>(chunks);
  ParallelFor(
      chunks, [&](int64_t part) { body(part * chunk, std::min(count, (part + 1) * chunk)); },
      options);
}

}  // namespace ensweep
