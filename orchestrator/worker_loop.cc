#include "orchestrator/worker_loop.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ostream>

#include "core/log.h"

namespace ensweep {
namespace {

using Clock = std::chrono::steady_clock;

// Raised inside a trial when the coordinator asks the worker to shut down mid-trial.
struct ShutdownRequested {};

class ChannelTrialContext : public TrialContext {
 public:
  ChannelTrialContext(WorkerChannel& channel, int64_t trial, double heartbeat_interval_s)
      : channel_(channel),
        trial_(trial),
        interval_(heartbeat_interval_s),
        last_send_(Clock::now()) {}

  bool ReportEpoch(const EpochReport& report) override {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : report.metrics) metrics[name] = value;
    channel_.Send(
        Message{msg::kReport, {{"trial", trial_}, {"epoch", report.epoch}, {"metrics", metrics}}});
    last_send_ = Clock::now();
    while (true) {
      const Message answer = channel_.Receive();
      if (answer.type == msg::kContinue) return true;
      if (answer.type == msg::kStop) return false;
      if (answer.type == msg::kShutdown) throw ShutdownRequested{};
      Log(LogLevel::kWarn, "ignoring unexpected ", answer.type, " while waiting for a decision");
    }
  }

  void KeepAlive() override {
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_send_).count() < interval_) return;
    channel_.Send(Message{msg::kHeartbeat, {}});
    last_send_ = now;
  }

 private:
  WorkerChannel& channel_;
  int64_t trial_;
  double interval_;
  Clock::time_point last_send_;
};

nlohmann::json ArtifactsJson(const std::vector<ArtifactRecord>& artifacts) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& a : artifacts) {
    list.push_back({{"kind", a.kind},
                    {"path", a.path},
                    {"size_bytes", a.size_bytes},
                    {"checksum", a.checksum}});
  }
  return list;
}

// Runs one RUN message to DONE or FAIL. Returns false if the worker must exit.
bool RunTrial(WorkerChannel& channel, Trainer& trainer, const Message& run,
              const WorkerOptions& options) {
  TrialRequest request;
  request.trial_number = run.body.at("trial").get<int64_t>();
  request.seed = run.body.at("seed").get<uint64_t>();
  request.params = run.body.at("params");
  request.epochs = run.body.at("epochs").get<int>();
  request.artifact_dir = run.body.at("artifact_dir").get<std::string>();
  ChannelTrialContext context(channel, request.trial_number, options.heartbeat_interval_s);
  Log(LogLevel::kDebug, "trial ", request.trial_number, " starting: ", request.params.dump());
  const auto started = Clock::now();
  const auto say = [&](const std::string& what) {
    if (options.progress == nullptr) return;
    *options.progress << "trial " << request.trial_number << " " << what << std::endl;
  };
  say("started: " + request.params.dump());
  try {
    const TrialResult result = trainer.Run(request, context);
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : result.metrics) metrics[name] = value;
    channel.Send(Message{msg::kDone,
                         {{"trial", request.trial_number},
                          {"metrics", metrics},
                          {"artifacts", ArtifactsJson(result.artifacts)},
                          {"epochs", result.epochs_completed},
                          {"stopped_early", result.stopped_early}}});
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.1f",
                  std::chrono::duration<double>(Clock::now() - started).count());
    say(std::string(result.stopped_early ? "stopped early" : "done") + " after " +
        std::to_string(result.epochs_completed) + " epochs, " + seconds + "s");
  } catch (const ShutdownRequested&) {
    say("interrupted: the coordinator is stopping");
    return false;
  } catch (const ChannelClosed&) {
    throw;
  } catch (const std::exception& e) {
    // The coordinator prints and stores the failure; a worker joined by hand says it too.
    Log(LogLevel::kDebug, "trial ", request.trial_number, " failed: ", e.what());
    say(std::string("failed: ") + e.what());
    channel.Send(Message{msg::kFail, {{"trial", request.trial_number}, {"error", e.what()}}});
  }
  return true;
}

}  // namespace

std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "?";
  return host;
}

std::string DefaultWorkerName() { return HostName() + ":" + std::to_string(getpid()); }

int RunWorker(WorkerChannel& channel, const TrainerFactory& make_trainer,
              const WorkerOptions& options) {
  const std::string host = HostName();
  try {
    channel.Send(Message{msg::kHello,
                         {{"protocol", kProtocolVersion},
                          {"name", options.name.empty() ? DefaultWorkerName() : options.name},
                          {"host", host},
                          {"pid", static_cast<int64_t>(getpid())}}});
    std::unique_ptr<Trainer> trainer;
    while (true) {
      const Message message = channel.Receive();
      if (message.type == msg::kShutdown) {
        if (options.progress != nullptr) {
          *options.progress << "the coordinator ended the run ("
                            << message.body.value("reason", std::string("no reason given")) << ")"
                            << std::endl;
        }
        return 0;
      }
      if (message.type == msg::kWelcome) {
        try {
          trainer = make_trainer(StudyFromJson(message.body.at("study")));
        } catch (const std::exception& e) {
          Log(LogLevel::kError, "cannot build the trainer: ", e.what());
          return 1;
        }
        channel.Send(Message{msg::kReady, {{"device", trainer->Device()}}});
        if (options.progress != nullptr) {
          *options.progress << "joined study " << message.body.at("study").value("study", "?")
                            << " (" << trainer->Device() << "); waiting for trials" << std::endl;
        }
      } else if (message.type == msg::kRun) {
        if (!trainer) {
          Log(LogLevel::kError, "RUN before WELCOME");
          return 1;
        }
        if (!RunTrial(channel, *trainer, message, options)) return 0;
      } else if (message.type == msg::kContinue || message.type == msg::kStop) {
        // A decision for a trial that already ended (e.g. after a FAIL): nothing to do.
      } else {
        Log(LogLevel::kWarn, "ignoring unexpected message ", message.type);
      }
    }
  } catch (const ChannelClosed& e) {
    Log(LogLevel::kWarn, e.what(), "; exiting");
    return 1;
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "worker error: ", e.what());
    return 1;
  }
}

}  // namespace ensweep
