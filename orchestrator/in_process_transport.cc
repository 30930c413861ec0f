#include "orchestrator/in_process_transport.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

namespace ensweep {

struct InProcessHub::Impl : CoordinatorTransport {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<TransportEvent> to_coordinator;
  std::map<int, std::deque<Message>> to_worker;
  std::map<int, bool> alive;
  int next_peer = 1;

  std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mutex);
    if (!changed.wait_for(lock, timeout, [this] { return !to_coordinator.empty(); }))
      return std::nullopt;
    TransportEvent event = std::move(to_coordinator.front());
    to_coordinator.pop_front();
    return event;
  }

  void Send(int peer, const Message& message) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (!alive[peer]) return;
    to_worker[peer].push_back(message);
    changed.notify_all();
  }

  void Disconnect(int peer) override {
    std::lock_guard<std::mutex> lock(mutex);
    alive[peer] = false;
    changed.notify_all();
  }

  std::string Endpoint() const override { return "in-process"; }

  void Kill(int peer, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!alive[peer]) return;
    alive[peer] = false;
    to_coordinator.push_back(TransportEvent{TransportEvent::Kind::kLost, peer, {}, reason});
    changed.notify_all();
  }
};

namespace {

class InProcessChannel : public WorkerChannel {
 public:
  InProcessChannel(std::shared_ptr<InProcessHub::Impl> hub, int peer)
      : hub_(std::move(hub)), peer_(peer) {}

  ~InProcessChannel() override { hub_->Kill(peer_, "worker channel closed"); }

  void Send(const Message& message) override {
    std::lock_guard<std::mutex> lock(hub_->mutex);
    if (!hub_->alive[peer_]) throw ChannelClosed("in-process channel closed");
    hub_->to_coordinator.push_back(
        TransportEvent{TransportEvent::Kind::kMessage, peer_, message, ""});
    hub_->changed.notify_all();
  }

  Message Receive() override {
    std::unique_lock<std::mutex> lock(hub_->mutex);
    auto& queue = hub_->to_worker[peer_];
    hub_->changed.wait(lock, [&] { return !queue.empty() || !hub_->alive[peer_]; });
    if (queue.empty()) throw ChannelClosed("in-process channel closed");
    Message message = std::move(queue.front());
    queue.pop_front();
    return message;
  }

 private:
  std::shared_ptr<InProcessHub::Impl> hub_;
  int peer_;
};

}  // namespace

InProcessHub::InProcessHub() : impl_(std::make_shared<Impl>()) {}
InProcessHub::~InProcessHub() = default;

CoordinatorTransport& InProcessHub::coordinator() { return *impl_; }

std::unique_ptr<WorkerChannel> InProcessHub::Connect() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const int peer = impl_->next_peer++;
  impl_->alive[peer] = true;
  return std::make_unique<InProcessChannel>(impl_, peer);
}

void InProcessHub::Kill(int peer, const std::string& reason) { impl_->Kill(peer, reason); }

}  // namespace ensweep
