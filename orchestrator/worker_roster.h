// The workers a coordinator knows, by transport peer, and their liveness.
//
// A worker is silent once the study's heartbeat timeout has passed since its last message
// (Heard). Silent() is asked once per round; if the coordinator itself did not run for longer
// than the timeout since the previous round (SIGSTOP and SIGCONT, a suspended machine), its
// workers' silence says nothing about them: every worker gets a fresh timeout instead. Idle
// workers, and gang members waiting for the coordinator (the rendezvous, rank 0's epoch), are sent
// a HEARTBEAT at least every min(5 s, timeout / 3) (DueHeartbeat), so that they can tell a silent
// coordinator from an idle one, and answer it. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ensweep {

struct WorkerSlot {
  using TimePoint = std::chrono::steady_clock::time_point;
  int64_t store_id = 0;
  std::string name;
  std::string host;  // as its HELLO gave it
  bool ready = false;
  bool gangs = false;            // it can be a gang member (READY)
  std::optional<int64_t> trial;  // the trial it runs, if any
  bool stop_sent = false;        // the pruner stopped that trial
  int64_t gang = 0;              // the GangAttempt (orchestrator/gang.h) it is a member of; 0: none
  bool waiting = false;          // a gang member waiting for the coordinator (heartbeats it)
  bool aborted = false;          // its gang's attempt was aborted; its DONE or FAIL frees it
  TimePoint last_seen;
  TimePoint trial_started;
  TimePoint heartbeat_sent;  // the coordinator's last HEARTBEAT to it
};

class WorkerRoster {
 public:
  using TimePoint = WorkerSlot::TimePoint;
  using Slots = std::map<int, std::unique_ptr<WorkerSlot>>;

  explicit WorkerRoster(double heartbeat_timeout_s) : timeout_s_(heartbeat_timeout_s) {}

  WorkerSlot& Add(int peer, const std::string& name, int64_t store_id, TimePoint now);
  WorkerSlot* Find(int peer);
  // Takes `peer` off the roster (null if it was not on it); whatever it sends later is ignored.
  std::unique_ptr<WorkerSlot> Remove(int peer);
  bool Dropped(int peer) const { return dropped_.count(peer) > 0; }

  Slots& slots() { return slots_; }
  const Slots& slots() const { return slots_; }
  int seen() const { return seen_; }  // workers added in all

  // The peers silent for longer than the timeout at `now` (none after a pause of the
  // coordinator's own: see above). Called once per round.
  std::vector<int> Silent(TimePoint now);
  // The idle (or waiting) peers due a HEARTBEAT at `now`, marked as sent.
  std::vector<int> DueHeartbeat(TimePoint now);

 private:
  double timeout_s_;
  Slots slots_;
  std::set<int> dropped_;  // lost or disconnected
  int seen_ = 0;
  std::optional<TimePoint> last_check_;
};

}  // namespace ensweep
