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
  std::map<int, std::deque<std::string>> to_worker;  // encoded messages
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
    std::string text = EncodeMessage(message);
    std::lock_guard<std::mutex> lock(mutex);
    if (!alive[peer]) return;
    to_worker[peer].push_back(std::move(text));
    changed.notify_all();
  }

  void Disconnect(int peer) override {
    std::lock_guard<std::mutex> lock(mutex);
    alive[peer] = false;
    changed.notify_all();
  }

  std::string Endpoint() const override { return "in-process"; }

  // With the lock held.
  void LoseLocked(int peer, const std::string& reason) {
    if (!alive[peer]) return;
    alive[peer] = false;
    to_coordinator.push_back(TransportEvent{TransportEvent::Kind::kLost, peer, {}, reason});
    changed.notify_all();
  }

  void Kill(int peer, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex);
    LoseLocked(peer, reason);
  }

  // A frame from a worker: decoded as a transport does; text that does not decode drops the peer.
  void FromWorker(int peer, const std::string& text) {
    std::optional<Message> message;
    std::string error;
    try {
      message = DecodeMessage(text);
    } catch (const ProtocolError& e) {
      error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!alive[peer]) throw ChannelClosed("in-process channel closed");
    if (!message) return LoseLocked(peer, error);
    to_coordinator.push_back(
        TransportEvent{TransportEvent::Kind::kMessage, peer, std::move(*message), ""});
    changed.notify_all();
  }
};

InProcessChannel::InProcessChannel(std::shared_ptr<InProcessHub::Impl> hub, int peer,
                                   bool honour_timeout)
    : hub_(std::move(hub)), peer_(peer), honour_timeout_(honour_timeout) {}

InProcessChannel::~InProcessChannel() { hub_->Kill(peer_, "worker channel closed"); }

void InProcessChannel::Send(const Message& message) { SendText(EncodeMessage(message)); }

void InProcessChannel::SendText(const std::string& text) { hub_->FromWorker(peer_, text); }

void InProcessChannel::SetReceiveTimeout(std::chrono::milliseconds timeout) {
  if (honour_timeout_) timeout_ = timeout;
}

Message InProcessChannel::Receive() {
  std::string text;
  {
    std::unique_lock<std::mutex> lock(hub_->mutex);
    auto& queue = hub_->to_worker[peer_];
    const auto ready = [&] { return !queue.empty() || !hub_->alive[peer_]; };
    if (timeout_) {
      if (!hub_->changed.wait_for(lock, *timeout_, ready)) {
        throw ChannelClosed("no message from the coordinator for " +
                            std::to_string(timeout_->count()) + " ms");
      }
    } else {
      hub_->changed.wait(lock, ready);
    }
    if (queue.empty()) throw ChannelClosed("in-process channel closed");
    text = std::move(queue.front());
    queue.pop_front();
  }
  return DecodeMessage(text);
}

std::optional<Message> InProcessChannel::ReceiveArrived() {
  std::string text;
  {
    std::lock_guard<std::mutex> lock(hub_->mutex);
    auto& queue = hub_->to_worker[peer_];
    if (queue.empty()) {
      if (!hub_->alive[peer_]) throw ChannelClosed("in-process channel closed");
      return std::nullopt;
    }
    text = std::move(queue.front());
    queue.pop_front();
  }
  return DecodeMessage(text);
}

InProcessHub::InProcessHub() : impl_(std::make_shared<Impl>()) {}
InProcessHub::~InProcessHub() = default;

CoordinatorTransport& InProcessHub::coordinator() { return *impl_; }

std::unique_ptr<InProcessChannel> InProcessHub::Connect(bool honour_receive_timeout) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const int peer = impl_->next_peer++;
  impl_->alive[peer] = true;
  return std::make_unique<InProcessChannel>(impl_, peer, honour_receive_timeout);
}

void InProcessHub::Kill(int peer, const std::string& reason) { impl_->Kill(peer, reason); }

}  // namespace ensweep
