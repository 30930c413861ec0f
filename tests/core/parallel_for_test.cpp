#include "core/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace ensweep;

TEST_CASE("ParallelFor calls the body once for every index", "[parallel]") {
  for (int threads : {1, 2, 7}) {
    std::vector<std::atomic<int>> calls(1000);
    ParallelOptions options;
    options.threads = threads;
    ParallelFor(
        1000, [&](int64_t i) { ++calls[static_cast<size_t>(i)]; }, options);
    for (const auto& c : calls) CHECK(c.load() == 1);
  }
}

TEST_CASE("a helper thread's exception reaches the caller once every thread has stopped",
          "[parallel]") {
  std::atomic<int> running{0}, started{0};
  ParallelOptions options;
  options.threads = 4;
  std::string message;
  try {
    ParallelFor(
        10000,
        [&](int64_t i) {
          ++running;
          ++started;
          // Not the calling thread's first item, so the throw comes from a helper at times; item
          // 37 throws on whichever thread takes it.
          if (i == 37) {
            --running;
            throw std::runtime_error("item 37 failed");
          }
          std::this_thread::yield();
          --running;
        },
        options);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  CHECK(message == "item 37 failed");
  CHECK(running.load() == 0);     // no body still runs after ParallelFor returned
  CHECK(started.load() < 10000);  // the items not yet started were skipped
}

TEST_CASE("the first exception wins and the caller's progress sees no later counts", "[parallel]") {
  ParallelOptions options;
  options.threads = 3;
  std::vector<int64_t> reports;
  options.progress = [&](int64_t done, int64_t count) {
    CHECK(count == 50);
    reports.push_back(done);
  };
  CHECK_THROWS_WITH(ParallelFor(
                        50,
                        [&](int64_t i) {
                          if (i >= 10) throw std::invalid_argument("bad item");
                        },
                        options),
                    "bad item");
  for (size_t i = 1; i < reports.size(); ++i) CHECK(reports[i] > reports[i - 1]);
  for (int64_t r : reports) CHECK(r <= 10);
}

TEST_CASE("progress runs on the calling thread and ends at the count", "[parallel]") {
  const auto caller = std::this_thread::get_id();
  std::set<std::thread::id> body_threads;
  std::mutex mutex;
  std::vector<int64_t> reports;
  ParallelOptions options;
  options.threads = 2;
  options.progress = [&](int64_t done, int64_t) {
    CHECK(std::this_thread::get_id() == caller);
    reports.push_back(done);
  };
  ParallelFor(
      200,
      [&](int64_t) {
        std::lock_guard<std::mutex> lock(mutex);
        body_threads.insert(std::this_thread::get_id());
      },
      options);
  CHECK(body_threads.count(caller) == 0);
  REQUIRE_FALSE(reports.empty());
  CHECK(reports.back() == 200);
  for (size_t i = 1; i < reports.size(); ++i) CHECK(reports[i] > reports[i - 1]);
}

TEST_CASE("an exception from progress stops the work and reaches the caller", "[parallel]") {
  ParallelOptions options;
  options.threads = 2;
  options.every = std::chrono::milliseconds(1);
  options.progress = [](int64_t, int64_t) { throw std::runtime_error("progress failed"); };
  std::atomic<int> started{0};
  CHECK_THROWS_WITH(ParallelFor(
                        1000000,
                        [&](int64_t) {
                          ++started;
                          std::this_thread::sleep_for(std::chrono::microseconds(50));
                        },
                        options),
                    "progress failed");
  CHECK(started.load() < 1000000);
}

TEST_CASE("ParallelChunks covers the range with contiguous chunks and rethrows", "[parallel]") {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  ParallelChunks(103, 4, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    chunks.emplace_back(begin, end);
  });
  std::sort(chunks.begin(), chunks.end());
  REQUIRE(chunks.size() == 4);
  int64_t expected = 0;
  for (const auto& [begin, end] : chunks) {
    CHECK(begin == expected);
    expected = end;
  }
  CHECK(expected == 103);
  CHECK_THROWS_WITH(ParallelChunks(100, 4,
                                   [](int64_t begin, int64_t) {
                                     if (begin > 0) throw std::runtime_error("chunk failed");
                                   }),
                    "chunk failed");
}
