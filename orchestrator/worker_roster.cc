#include "orchestrator/worker_roster.h"

#include <algorithm>
#include <cstdio>

#include "core/log.h"

namespace ensweep {

// The coordinator's HEARTBEAT to an idle worker: at least this often (more often for short
// heartbeat timeouts).
constexpr double kHeartbeatEverySeconds = 5;

WorkerSlot& WorkerRoster::Add(int peer, const std::string& name, int64_t store_id, TimePoint now) {
  auto slot = std::make_unique<WorkerSlot>();
  slot->name = name;
  slot->store_id = store_id;
  slot->last_seen = now;
  slot->heartbeat_sent = now;
  ++seen_;
  return *(slots_[peer] = std::move(slot));
}

WorkerSlot* WorkerRoster::Find(int peer) {
  const auto it = slots_.find(peer);
  return it == slots_.end() ? nullptr : it->second.get();
}

std::unique_ptr<WorkerSlot> WorkerRoster::Remove(int peer) {
  dropped_.insert(peer);
  const auto it = slots_.find(peer);
  if (it == slots_.end()) return nullptr;
  std::unique_ptr<WorkerSlot> slot = std::move(it->second);
  slots_.erase(it);
  return slot;
}

std::vector<int> WorkerRoster::Silent(TimePoint now) {
  const auto timeout = std::chrono::duration<double>(timeout_s_);
  const auto previous = last_check_;
  last_check_ = now;
  if (previous && now - *previous > timeout) {
    // The coordinator itself was not running (stopped, or its machine suspended): its workers'
    // silence says nothing about them, so each gets a fresh timeout from now.
    char gap[32];
    std::snprintf(gap, sizeof(gap), "%.1fs",
                  std::chrono::duration<double>(now - *previous).count());
    Log(LogLevel::kWarn, "the coordinator did not run for ", gap,
        " (stopped or suspended?), longer than the heartbeat timeout; every worker gets a fresh "
        "timeout");
    for (auto& [peer, slot] : slots_) slot->last_seen = now;
    return {};
  }
  std::vector<int> silent;
  for (const auto& [peer, slot] : slots_) {
    if (now - slot->last_seen > timeout) silent.push_back(peer);
  }
  return silent;
}

std::vector<int> WorkerRoster::DueHeartbeat(TimePoint now) {
  const double interval_s = std::min(kHeartbeatEverySeconds, timeout_s_ / 3);
  std::vector<int> due;
  for (auto& [peer, slot] : slots_) {
    // A worker that runs a trial reads only the answers to its reports, which come at once,
    // unless it is a gang member waiting for the others.
    if (slot->trial && !slot->waiting) continue;
    if (std::chrono::duration<double>(now - slot->heartbeat_sent).count() < interval_s) continue;
    slot->heartbeat_sent = now;
    due.push_back(peer);
  }
  return due;
}

}  // namespace ensweep
