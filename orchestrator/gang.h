// Gang trials: one trial trained by several workers at once (`slots_per_trial` > 1; the trainer's
// side is core/trainer.h GangInfo, the messages are message.h's).
//
// Scheduling policy (Coordinator::Dispatch): trials start in queue order (queued and retried
// trials first, then new proposals). The next trial to start is the head; it starts as soon as
// as many idle workers as it has slots are there. While a gang waits at the head, every idle
// worker is reserved for it: no later trial, of any size, starts before it (no backfilling). So a
// gang of N waits at most until N of the running trials have ended (or fewer, if workers are idle
// already): 1-slot trials cannot starve it, at the price of idle workers meanwhile. Members are
// chosen by ChooseGangMembers (same host first); rank 0 is its first choice. A trial asking for
// more slots than the run can ever have (more than its expected workers, or than the live ones
// once every expected worker has connected) fails at once instead of waiting; with elastic
// workers (none expected) it waits for workers to join.
//
// One attempt of a gang trial is a GangAttempt: its members by rank, the pruner's decision per
// epoch (taken on rank 0's report and given to every member that reports that epoch), and which
// members still hold the trial. An attempt is over once rank 0's DONE, any member's FAIL, or a
// member's loss has decided the trial; members still holding it then are freed by their DONE or
// FAIL, and nothing they send is recorded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ensweep {

// An idle worker that may join a gang.
struct GangCandidate {
  int peer = 0;
  std::string host;  // its HELLO host
};

// `size` of `idle` (which holds at least `size`), rank 0 first: the members all on one host when
// a host has `size` idle workers (the one whose lowest peer is lowest), else the hosts with the
// most idle workers first; within a host in peer order. Deterministic for the same input.
std::vector<int> ChooseGangMembers(const std::vector<GangCandidate>& idle, int size);

// "s<study>-t<trial>-a<attempt>-<nonce>": unique per attempt of a trial (the nonce tells runs of
// the same study apart: a trial interrupted by a stop runs again with the same attempt number).
std::string GangKey(int64_t study_id, int64_t trial, int attempt, const std::string& nonce);

struct GangAttempt {
  int64_t trial = 0;
  std::string key;
  std::vector<int> peers;         // by rank
  std::set<int> holding;          // members that have not yet ended the trial (DONE, FAIL, lost)
  bool rendezvous = false;        // rank 0's RENDEZVOUS was relayed
  bool over = false;              // the trial's outcome for this attempt is decided
  bool stop_sent = false;         // the pruner stopped the trial at some epoch
  std::map<int, bool> decisions;  // epoch -> continue, decided on rank 0's report
  std::map<int, int> waiting;     // member peer -> the epoch it waits an answer for

  // The member's rank, or -1.
  int RankOf(int peer) const;
  // The answer for a member's report of `epoch`: the decision at the first epoch >= it that
  // rank 0 has reported; STOP once the attempt is over without one; nullopt: wait for rank 0.
  std::optional<bool> AnswerFor(int epoch) const;
};

}  // namespace ensweep
