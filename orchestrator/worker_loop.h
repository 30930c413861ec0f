// A worker's side of the protocol (message.h), independent of how trials are trained.
//
// RunWorker says HELLO, builds its trainer from the study the coordinator sends, and then runs
// trials until SHUTDOWN or until the coordinator goes away. A trial that throws is reported as
// FAIL with the exception's text; the worker stays up for the next one. Exceptions never cross
// this function: it returns an exit status.
//
// A RUN with a gang (message.h) fills TrialRequest::gang, with advertise_host the channel's
// LocalAddress() (TCP: this end of the connection; in-process: 127.0.0.1), else the host name
// (MPI). The context's Rendezvous sends rank 0's blob (RENDEZVOUS) and returns it, or waits for
// the coordinator's relay on other ranks; an ABORT of the trial's attempt makes Rendezvous,
// ReportEpoch and (on channels that can look without waiting: WorkerChannel::ReceiveArrived)
// KeepAlive throw std::runtime_error, which the trainer lets through: the worker answers FAIL,
// which frees it, and takes the next RUN. ABORTs and RENDEZVOUS of attempts it has left are
// ignored. READY says that the worker can be a gang member.
//
// The worker does not trust its coordinator (message.h): a message that does not decode, a study
// it cannot read, a RUN beyond the study's epoch budget or whose artifact_dir is not inside the
// study's artifacts folder (symbolic links resolved) ends it with status 1 before anything runs.
// It creates the trial's artifact folder before the trainer runs (and removes it afterwards if
// the trainer left it empty). It bounds how long it waits for the coordinator
// (WorkerChannel::SetReceiveTimeout): welcome_timeout_s for WELCOME, then the study's heartbeat
// timeout plus silence_margin_s; the coordinator sends HEARTBEATs to idle workers, so a longer
// silence means it is gone or stuck, and the worker exits with status 1 saying so.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/study.h"
#include "core/trainer.h"
#include "orchestrator/transport.h"

namespace ensweep {

using TrainerFactory = std::function<std::unique_ptr<Trainer>(const StudySpec&)>;

struct WorkerOptions {
  std::string name;  // shown in the leaderboard's worker column
  double heartbeat_interval_s = 5;
  double welcome_timeout_s = 60;  // how long the worker waits for WELCOME after its HELLO
  double silence_margin_s = 30;   // added to the study's heartbeat timeout once it has WELCOME
  // A line per trial started and ended, and when the coordinator ends the run (a worker joined by
  // hand); null for workers whose coordinator prints progress (local processes, MPI ranks).
  std::ostream* progress = nullptr;
  // True once the worker is told to stop (SIGTERM from a batch scheduler). Read before each wait
  // and at every KeepAlive and epoch report of a trial, and when a wait for the coordinator is
  // cut short (the channel's receive ends with ChannelClosed while it is true). A running trial is
  // given back at once (INTERRUPTED: queued again, no retry charged); the worker exits with
  // kWorkerStopped. Null: never.
  std::function<bool()> stop_requested;
};

// RunWorker's status when stop_requested ended it (as `ensweep run` stopped by SIGTERM).
inline constexpr int kWorkerStopped = 130;

// Returns 0 after SHUTDOWN, kWorkerStopped after a stop request, 1 if the coordinator refused the
// worker (SHUTDOWN before WELCOME), was lost, silent or broke the protocol, or the trainer could
// not be built.
int RunWorker(WorkerChannel& channel, const TrainerFactory& make_trainer,
              const WorkerOptions& options);

// This machine's host name ("?" if it cannot be read).
std::string HostName();

// "<host>:<pid>" style default name for this process.
std::string DefaultWorkerName();

}  // namespace ensweep
