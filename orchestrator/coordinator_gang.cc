// The coordinator's handling of gang trials (orchestrator/gang.h): starting one, the rendezvous,
// epochs answered once rank 0 has reported them, the end of an attempt (DONE, FAIL, a lost
// member) and the ABORT of the other members.
#include <stdexcept>

#include "core/log.h"
#include "core/text.h"
#include "orchestrator/coordinator.h"

namespace ensweep {

GangAttempt& Coordinator::AttemptOf(const WorkerSlot& slot) {
  const auto it = gangs_.find(slot.gang);
  if (it == gangs_.end()) throw std::logic_error("a gang member without its attempt");
  return it->second;
}

bool Coordinator::RefuseImpossibleHead() {
  // Elastic runs (no expected workers) wait for workers to join.
  if (options_.expected_workers <= 0) return false;
  int most = options_.expected_workers;
  if (roster_.seen() >= options_.expected_workers) {
    // Every expected worker has connected: only the live ones that can join a gang are left
    // (one not READY yet may still say it can).
    most = 0;
    for (const auto& [peer, slot] : roster_.slots()) most += slot->gangs || !slot->ready ? 1 : 0;
  }
  if (head_->slots <= most) return false;
  const int slots = head_->slots;
  const TrialRecord& trial = StartHead("");
  book_.Fail(trial.number,
             "slots_per_trial is " + std::to_string(slots) + ", but this run has " +
                 CountOf(most, "worker") + " that can train it; give it at most " +
                 std::to_string(most) + " or start more workers",
             0);
  return true;
}

void Coordinator::StartGang(const std::vector<int>& members) {
  std::string names;
  for (int peer : members) names += (names.empty() ? "" : ", ") + roster_.Find(peer)->name;
  const TrialRecord& trial = StartHead(names);
  const int64_t id = next_gang_++;
  GangAttempt& attempt = gangs_[id];
  attempt.trial = trial.number;
  attempt.key = GangKey(study_id_, trial.number, trial.retries, gang_nonce_);
  attempt.peers = members;
  attempt.holding.insert(members.begin(), members.end());
  msg::RunGang gang;
  gang.size = static_cast<int>(members.size());
  gang.key = attempt.key;
  // MPI peers are the workers' MPI_COMM_WORLD ranks (mpi_transport.h).
  if (transport_.Endpoint() == "mpi") gang.mpi_ranks = members;
  for (size_t rank = 0; rank < members.size(); ++rank) {
    WorkerSlot& slot = *roster_.Find(members[rank]);
    slot.gang = id;
    slot.aborted = false;
    slot.waiting = rank > 0;  // for the rendezvous
    gang.rank = static_cast<int>(rank);
    SendRun(members[rank], trial, gang);
  }
  Log(LogLevel::kDebug, "trial ", trial.number, " runs on a gang of ", members.size(), " (", names,
      "), key ", attempt.key);
}

void Coordinator::OnRendezvous(int peer, WorkerSlot& slot, const Message& message) {
  const msg::Rendezvous rendezvous = msg::DecodeRendezvous(message);
  CheckTrial(slot, message.type, rendezvous.trial);
  if (slot.gang == 0) throw ProtocolError("RENDEZVOUS for a trial that is not a gang's");
  GangAttempt& attempt = AttemptOf(slot);
  slot.last_seen = Now();
  if (slot.aborted) return;  // an attempt already over: nothing to relay
  if (attempt.RankOf(peer) != 0) {
    throw ProtocolError("RENDEZVOUS from gang rank " + std::to_string(attempt.RankOf(peer)) +
                        "; only rank 0 sends it");
  }
  if (attempt.rendezvous) throw ProtocolError("a second RENDEZVOUS for the same attempt");
  attempt.rendezvous = true;
  for (size_t rank = 1; rank < attempt.peers.size(); ++rank) {
    const int member = attempt.peers[rank];
    if (attempt.holding.count(member) == 0) continue;
    roster_.Find(member)->waiting = false;
    transport_.Send(member, msg::Encode(msg::Rendezvous{attempt.trial, rendezvous.blob}));
  }
}

void Coordinator::AnswerWaiting(GangAttempt& attempt) {
  for (auto it = attempt.waiting.begin(); it != attempt.waiting.end();) {
    const auto answer = attempt.AnswerFor(it->second);
    if (!answer) {
      ++it;
      continue;
    }
    if (WorkerSlot* member = roster_.Find(it->first)) {
      member->waiting = false;
      if (*answer) {
        transport_.Send(it->first, msg::Encode(msg::Continue{attempt.trial}));
      } else {
        transport_.Send(it->first, msg::Encode(msg::Stop{attempt.trial}));
      }
    }
    it = attempt.waiting.erase(it);
  }
}

void Coordinator::OnGangReport(int peer, WorkerSlot& slot, const Message& message) {
  const msg::Report report = msg::DecodeReport(message);
  CheckTrial(slot, message.type, report.trial);
  CheckEpochs(message.type, report.epoch, "epoch");
  slot.last_seen = Now();
  if (slot.aborted) return;  // it has its ABORT; nothing it reports is recorded
  GangAttempt& attempt = AttemptOf(slot);
  if (attempt.waiting.count(peer) > 0) {
    throw ProtocolError("REPORT for epoch " + std::to_string(report.epoch) +
                        " before the answer to epoch " + std::to_string(attempt.waiting[peer]));
  }
  if (attempt.RankOf(peer) == 0 && !attempt.over) {
    if (book_.RecordEpoch(report.trial, report.epoch, report.metrics, attempt.stop_sent)) {
      attempt.stop_sent = true;
    }
    attempt.decisions[report.epoch] = !attempt.stop_sent;
  }
  attempt.waiting[peer] = report.epoch;
  slot.waiting = true;
  AnswerWaiting(attempt);
}

void Coordinator::OnGangEnd(int peer, WorkerSlot& slot, const Message& message) {
  GangAttempt& attempt = AttemptOf(slot);
  const int rank = attempt.RankOf(peer);
  const bool decides = !slot.aborted && !attempt.over;  // this message may decide the trial
  const double seconds = std::chrono::duration<double>(Now() - slot.trial_started).count();
  if (message.type == msg::kDone) {
    msg::Done done = msg::DecodeDone(message);
    CheckTrial(slot, message.type, done.trial);
    CheckEpochs(message.type, done.epochs, "epochs");
    if (rank != 0 && decides && !done.artifacts.empty()) {
      throw ProtocolError("DONE with artifacts from gang rank " + std::to_string(rank) +
                          "; only rank 0 sends them");
    }
    slot.last_seen = Now();
    if (rank == 0 && decides) {
      CheckArtifacts(done.trial, done.artifacts);
      book_.Finish(done.trial, done.metrics, done.artifacts, done.epochs,
                   attempt.stop_sent || done.stopped_early, seconds);
      attempt.over = true;
      AnswerWaiting(attempt);  // members waiting for an epoch rank 0 never reported: STOP
    }
  } else {
    const msg::Fail fail = msg::DecodeFail(message);
    CheckTrial(slot, message.type, fail.trial);
    slot.last_seen = Now();
    if (decides) {
      const std::string who = "gang rank " + std::to_string(rank) + " (worker " + slot.name + ")";
      book_.Fail(fail.trial, who + ": " + fail.error, seconds);
      AbortGang(attempt, peer, who + " failed");
    }
  }
  FreeMember(peer, slot);
}

void Coordinator::AbortGang(GangAttempt& attempt, int cause, const std::string& reason) {
  attempt.over = true;
  attempt.waiting.clear();
  for (int member : attempt.holding) {
    if (member == cause) continue;
    WorkerSlot* const slot = roster_.Find(member);
    if (slot == nullptr || slot->aborted) continue;
    slot->aborted = true;
    slot->waiting = false;
    transport_.Send(member, msg::Encode(msg::Abort{attempt.trial, reason}));
  }
}

void Coordinator::FreeMember(int peer, WorkerSlot& slot) {
  const auto it = gangs_.find(slot.gang);
  if (it != gangs_.end()) {
    it->second.holding.erase(peer);
    it->second.waiting.erase(peer);
    if (it->second.holding.empty()) gangs_.erase(it);
  }
  slot.trial.reset();
  slot.gang = 0;
  slot.stop_sent = false;
  slot.waiting = false;
  slot.aborted = false;
}

void Coordinator::GangMemberLost(int peer, const WorkerSlot& slot, const std::string& reason) {
  const auto it = gangs_.find(slot.gang);
  if (it == gangs_.end()) return;
  GangAttempt& attempt = it->second;
  if (!slot.aborted && !attempt.over) {
    const std::string what = "gang rank " + std::to_string(attempt.RankOf(peer)) + " (worker " +
                             slot.name + ") lost: " + reason;
    if (stopping_) {
      book_.Interrupt(attempt.trial, "stopped by signal (" + what + ")");
    } else {
      book_.Stale(attempt.trial, what);
    }
    AbortGang(attempt, peer, what);
  }
  attempt.holding.erase(peer);
  attempt.waiting.erase(peer);
  if (attempt.holding.empty()) gangs_.erase(it);
}

}  // namespace ensweep
