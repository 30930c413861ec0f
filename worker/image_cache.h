// Every image of a data set, decoded once and kept resized in one contiguous buffer.
//
// A worker decodes its images when it runs its first trial and keeps them for its lifetime, so
// every later trial starts training at once and reads batches straight from memory (competition
// scale at 96x128: 18,900 x 36,864 bytes = 0.7 GB). Immutable after Decode, so concurrent reads
// are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ensweep {

class ImageCache {
 public:
  ImageCache() = default;

  // Decodes every path, resized to width x height RGB, on `threads` threads (at least 1). The
  // calling thread does no decoding; it calls keep_alive (if set) about every 100 ms and
  // progress(done, total) as images finish, so a coordinator watching heartbeats knows the worker
  // is alive through a long decode. Every image is attempted; if any fail, throws one UserError
  // listing the failing paths (the first few with their reasons) so that a user can fix them all
  // at once. Other exceptions from worker threads are rethrown here.
  static ImageCache Decode(const std::vector<std::string>& paths, int width, int height,
                           int threads, const std::function<void()>& keep_alive = {},
                           const std::function<void(int64_t, int64_t)>& progress = {});

  int64_t size() const { return count_; }
  int width() const { return width_; }
  int height() const { return height_; }
  int64_t image_bytes() const { return static_cast<int64_t>(width_) * height_ * 3; }
  // Image i (0 <= i < size()): height rows of width * 3 bytes, RGB.
  const uint8_t* image(int64_t i) const { return pixels_.data() + i * image_bytes(); }

 private:
  int64_t count_ = 0;
  int width_ = 0;
  int height_ = 0;
  std::vector<uint8_t> pixels_;
};

}  // namespace ensweep
