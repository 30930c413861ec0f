#include "orchestrator/worker_loop.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>

#include "core/log.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Raised inside a trial when the coordinator asks the worker to shut down mid-trial.
struct ShutdownRequested {};

// Raised when the worker was told to stop (WorkerOptions::stop_requested): at an epoch report,
// or when a wait for the coordinator was interrupted by the signal.
struct StopRequested {};

// Raised inside a gang trial when the coordinator ABORTs its attempt; the trainer propagates it
// and the worker answers FAIL, which frees it.
struct GangAborted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Raised when nothing came from the coordinator within the receive timeout.
struct CoordinatorSilent {
  double seconds;
};

// The worker's end of the conversation: receives with a timeout, and tells a timeout (the
// coordinator is silent) from a closed channel whatever the channel's words for either.
class Inbox {
 public:
  Inbox(WorkerChannel& channel, std::function<bool()> stop_requested)
      : channel_(channel), stop_requested_(std::move(stop_requested)) {}

  bool Stopping() const { return stop_requested_ && stop_requested_(); }

  void SetTimeout(std::chrono::milliseconds timeout) {
    timeout_ = timeout;
    channel_.SetReceiveTimeout(timeout);
  }

  // The next message other than a HEARTBEAT. A HEARTBEAT proves the coordinator alive and is
  // answered with one, which keeps an idle worker alive in the coordinator's eyes.
  Message Next() {
    if (!held_.empty()) {
      Message message = std::move(held_.front());
      held_.pop_front();
      return message;
    }
    while (true) {
      if (Stopping()) throw StopRequested{};
      const auto started = Clock::now();
      Message message;
      try {
        message = channel_.Receive();
      } catch (const ChannelClosed&) {
        if (Stopping()) throw StopRequested{};
        const auto waited = Clock::now() - started;
        if (timeout_ && waited >= *timeout_ * 9 / 10) {
          throw CoordinatorSilent{std::chrono::duration<double>(waited).count()};
        }
        throw;
      }
      if (message.type != msg::kHeartbeat) return message;
      msg::DecodeHeartbeat(message);
      channel_.Send(msg::Encode(msg::Heartbeat{}));
    }
  }

  // Takes in what has arrived without waiting (HEARTBEATs answered), and returns the first held
  // message of type `type`, taken out; the others stay for Next.
  std::optional<Message> TakeArrived(const char* type) {
    while (auto message = channel_.ReceiveArrived()) {
      if (message->type == msg::kHeartbeat) {
        msg::DecodeHeartbeat(*message);
        channel_.Send(msg::Encode(msg::Heartbeat{}));
      } else {
        held_.push_back(std::move(*message));
      }
    }
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (it->type != type) continue;
      Message found = std::move(*it);
      held_.erase(it);
      return found;
    }
    return std::nullopt;
  }

 private:
  WorkerChannel& channel_;
  std::function<bool()> stop_requested_;
  std::deque<Message> held_;  // arrived during KeepAlive, not yet read
  std::optional<std::chrono::milliseconds> timeout_;
};

class ChannelTrialContext : public TrialContext {
 public:
  ChannelTrialContext(WorkerChannel& channel, Inbox& inbox, const TrialRequest& request,
                      double heartbeat_interval_s)
      : channel_(channel),
        inbox_(inbox),
        trial_(request.trial_number),
        gang_(request.gang),
        interval_(heartbeat_interval_s),
        last_send_(Clock::now()) {}

  bool ReportEpoch(const EpochReport& report) override {
    GiveBackIfStopping();
    if (given_back_) throw StopRequested{};
    channel_.Send(msg::Encode(msg::Report{trial_, report.epoch, report.metrics}));
    last_send_ = Clock::now();
    while (true) {
      const Message answer = NextForTrial();
      int64_t trial = 0;
      bool go_on = true;
      if (answer.type == msg::kContinue) {
        trial = msg::DecodeContinue(answer).trial;
      } else if (answer.type == msg::kStop) {
        trial = msg::DecodeStop(answer).trial;
        go_on = false;
      } else {
        throw ProtocolError(msg::QuotedType(answer.type) + " while waiting for CONTINUE or STOP");
      }
      if (trial != trial_) {
        throw ProtocolError(answer.type + " for trial " + std::to_string(trial) + " while trial " +
                            std::to_string(trial_) + " runs");
      }
      return go_on;
    }
  }

  void KeepAlive() override {
    GiveBackIfStopping();
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_send_).count() < interval_) return;
    channel_.Send(msg::Encode(msg::Heartbeat{}));
    last_send_ = now;
    // A gang member looks for its attempt's ABORT (or a SHUTDOWN) without waiting.
    if (gang_.size <= 1) return;
    if (inbox_.TakeArrived(msg::kShutdown)) throw ShutdownRequested{};
    while (const auto abort = inbox_.TakeArrived(msg::kAbort)) {
      const msg::Abort decoded = msg::DecodeAbort(*abort);
      if (decoded.trial == trial_) {
        throw GangAborted("gang attempt aborted by the coordinator: " + decoded.reason);
      }
    }
  }

  std::string Rendezvous(const std::string& blob) override {
    if (gang_.size <= 1) throw std::runtime_error("Rendezvous: trial " + Trial() + " is no gang's");
    if (gang_.rank == 0) {
      channel_.Send(msg::Encode(msg::Rendezvous{trial_, blob}));
      last_send_ = Clock::now();
      return blob;
    }
    // The coordinator heartbeats a member waiting here; Inbox answers each.
    const Message answer = NextForTrial();
    if (answer.type != msg::kRendezvous) {
      throw ProtocolError(msg::QuotedType(answer.type) + " while waiting for RENDEZVOUS");
    }
    const msg::Rendezvous rendezvous = msg::DecodeRendezvous(answer);
    if (rendezvous.trial != trial_) {
      throw ProtocolError("RENDEZVOUS for trial " + std::to_string(rendezvous.trial) +
                          " while trial " + Trial() + " runs");
    }
    return rendezvous.blob;
  }

  // INTERRUPTED sent: the trainer's result, if it finishes, is not reported.
  bool given_back() const { return given_back_; }

  // Once the worker is told to stop, the trial goes back to the coordinator at once (INTERRUPTED),
  // from the first KeepAlive or epoch report: a batch scheduler kills the worker soon after its
  // SIGTERM, maybe before the epoch ends. The trainer then runs on until its next report.
  void GiveBackIfStopping() {
    if (given_back_ || !inbox_.Stopping()) return;
    channel_.Send(msg::Encode(msg::Interrupted{trial_, "stopped by signal"}));
    given_back_ = true;
  }

 private:
  std::string Trial() const { return std::to_string(trial_); }

  // The next message for the running trial: SHUTDOWN and this trial's ABORT are raised; an ABORT
  // of an earlier attempt is skipped.
  Message NextForTrial() {
    while (true) {
      Message message = inbox_.Next();
      if (message.type == msg::kShutdown) throw ShutdownRequested{};
      if (message.type != msg::kAbort) return message;
      const msg::Abort abort = msg::DecodeAbort(message);
      if (abort.trial == trial_) {
        throw GangAborted("gang attempt aborted by the coordinator: " + abort.reason);
      }
    }
  }

  WorkerChannel& channel_;
  Inbox& inbox_;
  int64_t trial_;
  bool given_back_ = false;
  GangInfo gang_;
  double interval_;
  Clock::time_point last_send_;
};

// What the worker got wrong about the study itself: reported as FAIL, not a protocol error.
struct ArtifactFolderError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The trial's artifact folder: `dir` as sent, which must lie inside the study's artifacts folder
// `root`, created, with its real path (symbolic links resolved) inside root's real path. The
// check of the real path is made before the folder is created (so that nothing is created
// outside) and again after. Throws ProtocolError when it is elsewhere, ArtifactFolderError when
// it cannot be created.
std::string TrialFolder(const std::string& root, const std::string& dir) {
  const std::string shown = "'" + msg::CutText(dir, 256) + "'";
  const auto inside = msg::PathInside(root, dir);
  if (!inside) {
    throw ProtocolError("RUN: 'artifact_dir' " + shown +
                        " is not inside the study's artifacts folder " + root);
  }
  std::error_code error;
  fs::create_directories(root, error);
  const fs::path real_root = error ? fs::path() : fs::canonical(root, error);
  if (error) {
    throw ArtifactFolderError("cannot create the artifacts folder " + root + ": " +
                              error.message());
  }
  const auto check_real = [&](const fs::path& real) {
    if (!msg::PathInside(real_root.string(), real.string())) {
      throw ProtocolError("RUN: 'artifact_dir' " + shown + " leads to " + real.string() +
                          " through a symbolic link, outside the study's artifacts folder " + root);
    }
  };
  const fs::path before = fs::weakly_canonical(*inside, error);
  if (error) {
    throw ArtifactFolderError("cannot resolve the artifact folder " + *inside + ": " +
                              error.message());
  }
  check_real(before);
  fs::create_directories(*inside, error);
  const fs::path after = error ? fs::path() : fs::canonical(*inside, error);
  if (error) {
    throw ArtifactFolderError("cannot create the artifact folder " + *inside + ": " +
                              error.message());
  }
  check_real(after);
  return *inside;
}

// Runs one RUN message to DONE or FAIL. Returns false if the worker must exit. Throws
// ProtocolError, before running anything, for a RUN the study does not allow.
bool RunTrial(WorkerChannel& channel, Inbox& inbox, Trainer& trainer, const StudySpec& study,
              const msg::Run& run, const WorkerOptions& options) {
  if (run.epochs > study.budget.epochs) {
    throw ProtocolError("RUN: 'epochs' is " + std::to_string(run.epochs) + ", beyond the study's " +
                        std::to_string(study.budget.epochs));
  }
  TrialRequest request;
  request.trial_number = run.trial;
  request.seed = run.seed;
  request.params = run.params;
  request.epochs = run.epochs;
  if (run.gang) {
    request.gang.size = run.gang->size;
    request.gang.rank = run.gang->rank;
    request.gang.key = run.gang->key;
    request.gang.mpi_ranks = run.gang->mpi_ranks;
    request.gang.advertise_host = channel.LocalAddress();
    if (request.gang.advertise_host.empty()) request.gang.advertise_host = HostName();
  }
  ChannelTrialContext context(channel, inbox, request, options.heartbeat_interval_s);
  Log(LogLevel::kDebug, "trial ", request.trial_number, " starting: ", request.params.dump());
  const auto started = Clock::now();
  const auto say = [&](const std::string& what) {
    if (options.progress == nullptr) return;
    *options.progress << "trial " << request.trial_number << " " << what << std::endl;
  };
  try {
    request.artifact_dir = TrialFolder(study.artifacts, run.artifact_dir);
    say("started: " + request.params.dump());
    const TrialResult result = trainer.Run(request, context);
    context.GiveBackIfStopping();
    if (context.given_back()) throw StopRequested{};
    // A trainer that writes nothing (the built-in objectives) leaves no empty folder behind.
    std::error_code ignored;
    if (fs::is_empty(request.artifact_dir, ignored)) fs::remove(request.artifact_dir, ignored);
    channel.Send(msg::Encode(msg::Done{request.trial_number, result.metrics, result.artifacts,
                                       result.epochs_completed, result.stopped_early}));
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.1f",
                  std::chrono::duration<double>(Clock::now() - started).count());
    say(std::string(result.stopped_early ? "stopped early" : "done") + " after " +
        std::to_string(result.epochs_completed) + " epochs, " + seconds + "s");
  } catch (const ShutdownRequested&) {
    say("interrupted: the coordinator is stopping");
    return false;
  } catch (const StopRequested&) {
    try {
      context.GiveBackIfStopping();
    } catch (const ChannelClosed&) {
      // The coordinator is gone too: nothing to give back to.
    }
    say("interrupted by a signal: given back to the coordinator");
    throw;
  } catch (const ChannelClosed&) {
    throw;
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {
    // The coordinator prints and stores the failure; a worker joined by hand says it too.
    Log(LogLevel::kDebug, "trial ", request.trial_number, " failed: ", e.what());
    say(std::string("failed: ") + e.what());
    channel.Send(msg::Encode(msg::Fail{request.trial_number, e.what()}));
  }
  return true;
}

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "?";
  return host;
}

std::string DefaultWorkerName() { return HostName() + ":" + std::to_string(getpid()); }

namespace {

// The conversation from HELLO to SHUTDOWN (message.h); RunWorker turns what it throws into an
// exit status.
int Converse(WorkerChannel& channel, Inbox& inbox, const TrainerFactory& make_trainer,
             const WorkerOptions& options) {
  inbox.SetTimeout(Milliseconds(options.welcome_timeout_s));
  channel.Send(msg::Encode(msg::Hello{kProtocolVersion,
                                      options.name.empty() ? DefaultWorkerName() : options.name,
                                      HostName(), static_cast<int64_t>(getpid())}));
  std::unique_ptr<Trainer> trainer;
  std::optional<StudySpec> study;
  while (true) {
    const Message message = inbox.Next();
    if (message.type == msg::kShutdown) {
      const msg::Shutdown shutdown = msg::DecodeShutdown(message);
      if (!study) {
        // Before WELCOME: the coordinator refused this worker (e.g. another protocol version).
        Log(LogLevel::kError, "the coordinator refused this worker: ", shutdown.reason);
        return 1;
      }
      if (options.progress != nullptr) {
        *options.progress << "the coordinator ended the run ("
                          << (shutdown.reason.empty() ? "no reason given" : shutdown.reason) << ")"
                          << std::endl;
      }
      return 0;
    }
    if (message.type == msg::kWelcome) {
      if (study) throw ProtocolError("a second WELCOME");
      const msg::Welcome welcome = msg::DecodeWelcome(message);
      try {
        study = StudyFromJson(welcome.study);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, "the coordinator sent a study this worker cannot read: ", e.what());
        return 1;
      }
      inbox.SetTimeout(
          Milliseconds(study->resources.heartbeat_timeout_s + options.silence_margin_s));
      try {
        trainer = make_trainer(*study);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, "cannot build the trainer: ", e.what());
        return 1;
      }
      channel.Send(msg::Encode(msg::Ready{trainer->Device(), true}));
      if (options.progress != nullptr) {
        *options.progress << "joined study " << study->name << " (" << trainer->Device()
                          << "); waiting for trials" << std::endl;
      }
    } else if (message.type == msg::kRun) {
      const msg::Run run = msg::DecodeRun(message);
      if (!trainer) throw ProtocolError("RUN before WELCOME");
      if (!RunTrial(channel, inbox, *trainer, *study, run, options)) return 0;
    } else if (message.type == msg::kContinue || message.type == msg::kStop) {
      // A decision for a trial that already ended (e.g. after a FAIL): nothing to do.
    } else if (message.type == msg::kAbort) {
      msg::DecodeAbort(message);  // for a gang trial this worker ended already (its DONE)
    } else if (message.type == msg::kRendezvous) {
      msg::DecodeRendezvous(message);  // for a gang attempt this worker left already
    } else {
      throw ProtocolError("workers are not sent " + msg::QuotedType(message.type));
    }
  }
}

}  // namespace

int RunWorker(WorkerChannel& channel, const TrainerFactory& make_trainer,
              const WorkerOptions& options) {
  Inbox inbox(channel, options.stop_requested);
  try {
    return Converse(channel, inbox, make_trainer, options);
  } catch (const StopRequested&) {
    Log(LogLevel::kInfo, "stopped by signal; exiting");
    return kWorkerStopped;
  } catch (const CoordinatorSilent& silent) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.1f", silent.seconds);
    Log(LogLevel::kError, "the coordinator was silent for ", seconds, " s; exiting");
    return 1;
  } catch (const ChannelClosed& e) {
    Log(LogLevel::kWarn, e.what(), "; exiting");
    return 1;
  } catch (const ProtocolError& e) {
    Log(LogLevel::kError, "protocol error from the coordinator: ", e.what(), "; exiting");
    return 1;
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "worker error: ", e.what());
    return 1;
  }
}

}  // namespace ensweep
