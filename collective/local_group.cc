// In-memory groups for tests: the members are threads of one process sharing one Exchange. Each
// collective is one round: every member posts its buffer, the last to arrive computes the result
// into a shared scratch buffer (the sum in rank order, or the root's bytes) and opens the round;
// each member then copies the result out. The scratch is written again only when the next round
// completes, which needs every member to have arrived there, that is, to have finished copying.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "collective/collective.h"
#include "collective/reduce.h"

namespace ensweep::collective {
namespace {

struct Post {
  void* data = nullptr;
  size_t count = 0;  // elements for a sum, bytes for a broadcast
  int op = 0;
  int root = 0;
  DType dtype = DType::kFloat32;
};

class Exchange {
 public:
  Exchange(int size, std::chrono::milliseconds timeout)
      : size_(size), timeout_(timeout), posts_(size) {}

  // Posts this member's buffer and waits for the round to complete; returns the result to copy
  // out (empty for a barrier). Throws when the round cannot complete.
  const std::vector<char>& Round(int rank, const Post& post) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!broken_.empty()) throw std::runtime_error(broken_);
    posts_[rank] = post;
    if (++arrived_ == size_) {
      Complete();
      return scratch_;
    }
    const uint64_t generation = generation_;
    const bool done =
        cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || !broken_.empty(); });
    if (generation_ != generation) return scratch_;
    if (!done)
      Break("local: timed out after " + std::to_string(timeout_.count()) +
            " ms waiting for the other members of the group");
    throw std::runtime_error(broken_);
  }

  void Leave(int rank) {
    std::lock_guard<std::mutex> lock(mutex_);
    Break("local: member " + std::to_string(rank) + " left the group");
  }

 private:
  void Break(const std::string& why) {
    if (broken_.empty()) broken_ = why;
    cv_.notify_all();
  }

  // Called with the lock held by the last member to arrive.
  void Complete() {
    arrived_ = 0;
    const Post& first = posts_[0];
    for (const Post& p : posts_) {
      if (p.op != first.op || p.count != first.count || p.dtype != first.dtype ||
          p.root != first.root) {
        Break("local: the members called different collectives (or with different sizes)");
        throw std::runtime_error(broken_);
      }
    }
    if (first.op == kSum) {
      const size_t bytes = first.count * DTypeSize(first.dtype);
      scratch_.resize(bytes);
      if (bytes > 0) std::memcpy(scratch_.data(), first.data, bytes);
      for (int r = 1; r < size_; ++r)
        AddInto(scratch_.data(), posts_[r].data, first.count, first.dtype);
    } else if (first.op == kBroadcast) {
      scratch_.assign(static_cast<const char*>(posts_[first.root].data),
                      static_cast<const char*>(posts_[first.root].data) + first.count);
    }
    ++generation_;
    cv_.notify_all();
  }

 public:
  static constexpr int kSum = 1, kBroadcast = 2, kBarrier = 3;

 private:
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Post> posts_;
  std::vector<char> scratch_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  std::string broken_;
};

class LocalGroup : public Group {
 public:
  LocalGroup(std::shared_ptr<Exchange> exchange, int rank, int size)
      : exchange_(std::move(exchange)), rank_(rank), size_(size) {}
  ~LocalGroup() override { exchange_->Leave(rank_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "local"; }
  Memory memory() const override { return Memory::kHost; }

  void AllReduceSum(void* data, size_t count, DType dtype) override {
    const auto& result = exchange_->Round(rank_, {data, count, Exchange::kSum, 0, dtype});
    if (!result.empty() && result.data() != data) std::memcpy(data, result.data(), result.size());
  }

  void Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_)
      throw std::runtime_error("local: broadcast root " + std::to_string(root) +
                               " is not a member");
    const auto& result = exchange_->Round(rank_, {data, bytes, Exchange::kBroadcast, root});
    if (rank_ != root && !result.empty()) std::memcpy(data, result.data(), result.size());
  }

  void Barrier() override { exchange_->Round(rank_, {nullptr, 0, Exchange::kBarrier}); }

 private:
  std::shared_ptr<Exchange> exchange_;
  const int rank_;
  const int size_;
};

}  // namespace

std::vector<std::unique_ptr<Group>> MakeLocalGroups(int size, const Options& options) {
  if (size < 1) throw std::invalid_argument("local: a group needs at least one member");
  auto exchange = std::make_shared<Exchange>(size, options.timeout);
  std::vector<std::unique_ptr<Group>> groups;
  for (int r = 0; r < size; ++r) groups.push_back(std::make_unique<LocalGroup>(exchange, r, size));
  return groups;
}

}  // namespace ensweep::collective
