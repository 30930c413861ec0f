// `ensweep run` (coordinator plus local or MPI workers) and `ensweep worker` (one worker).
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "apps/commands.h"
#include "apps/leaderboard.h"
#include "apps/run_view.h"
#include "apps/table.h"
#include "apps/torch_plugin.h"
#include "core/error.h"
#include "core/listing.h"
#include "core/log.h"
#include "core/store.h"
#include "core/study.h"
#include "objectives/objective_trainer.h"
#include "orchestrator/auth.h"
#include "orchestrator/cluster_env.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/gpu_slots.h"
#include "orchestrator/local_workers.h"
#include "orchestrator/mpi_transport.h"
#include "orchestrator/run_lock.h"
#include "orchestrator/tcp_transport.h"
#include "orchestrator/worker_loop.h"
#include "search/sampler.h"

namespace ensweep {
namespace {

std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};  // the first stop signal received; 0 while none was

void RequestStop(int signal) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signal);
  g_stop_requested = true;
}

// The coordinator stops cleanly on Ctrl-C, SIGTERM and SIGHUP (its terminal closed, an ssh
// session that dropped): the round in progress ends, running trials go back to the queue, and
// FinishRun's status says which signal it was. A worker joined by hand (`ensweep worker`) gives
// its trial back and exits on the same signals. Without SA_RESTART: a wait for a message ends
// when the signal comes (orchestrator/tcp_transport.h).
void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = RequestStop;
  action.sa_flags = 0;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
}

// A closed stdout or socket is an error where it is written (`ensweep run ... | head -3`, a
// worker gone mid-message), never a reason to die: writes to it fail with EPIPE instead. A
// failed write to std::cout sets its badbit, after which every later write to it is skipped, so
// the run goes on silently to its end and its exit status is the study's.
void IgnoreBrokenPipes() { signal(SIGPIPE, SIG_IGN); }

// The exit status of a run stopped by a signal: 129 (128 + SIGHUP) for a hang-up, 130 for Ctrl-C
// and SIGTERM.
int StoppedStatus() { return g_stop_signal.load() == SIGHUP ? 128 + SIGHUP : 130; }

// The CPUs this process may use (its affinity mask), at most those Slurm gave the task.
int Cores() { return std::min(UsableCpus(), SlurmCpusPerTask().value_or(UsableCpus())); }

// Torch threads per local worker when not given: this process's CPUs shared among its workers.
int DefaultThreads(int workers_on_this_machine) {
  return ThreadsPerWorker(Cores(), workers_on_this_machine, std::nullopt);
}

void CheckDataExists(const StudySpec& spec) {
  CheckDataPaths(spec.data, spec.source_path.empty() ? spec.name : spec.source_path);
}

// The worker's trainer, chosen by the study's `trainer.type`: a built-in objective without
// training (objectives/), or LibTorch training (worker/, its module loaded only then) with
// `threads` threads on GPU slot `gpu_slot` (orchestrator/gpu_slots.h); `log_name` prefixes the
// module's log lines.
TrainerFactory MakeTrainerFactory(int threads, int gpu_slot, const std::string& log_name) {
  return [threads, gpu_slot, log_name](const StudySpec& s) -> std::unique_ptr<Trainer> {
    if (s.trainer.type != TrainerType::kTorch) return MakeObjectiveTrainer(s);
    return MakeTorchTrainerFromPlugin(s, threads, gpu_slot, log_name);
  };
}

// "study NAME: 8 trials x 4 epochs, sampler random (seed 0)": the first line of a run, with the
// trials it will run: the study's trial budget (--trials when given), or the grid's size when
// that is smaller.
std::string StudyLine(const StudySpec& spec, int64_t trials_override) {
  const int64_t budget = trials_override > 0 ? trials_override : spec.budget.trials;
  return "study " + spec.name + ": " + CountOf(PlannedTrials(spec, budget), "trial") + " x " +
         CountOf(spec.budget.epochs, "epoch") + ", sampler " + OptionName(spec.sampler.type) +
         " (seed " + std::to_string(spec.sampler.seed) + ")";
}

// Local workers when --workers is not given: one per visible GPU for LibTorch training when this
// build's LibTorch has CUDA, else one per 2 CPU cores.
int DefaultLocalWorkers(const StudySpec& spec) {
  const int gpus =
      ENSWEEP_TORCH_CUDA && spec.trainer.type == TrainerType::kTorch ? VisibleGpuCount() : 0;
  return gpus > 0 ? gpus : std::max(1, Cores() / 2);
}

// Refuses a study whose trials ask for more slots (resources.slots_per_trial, or the space's or
// enqueue's slots_per_trial) than the `workers` this run starts: those trials could never start.
void CheckSlotsFit(const StudySpec& spec, int workers, const std::string& how) {
  const int most = MaxSlotsPerTrial(spec);
  if (most <= workers) return;
  const std::string file = spec.source_path.empty() ? "the study" : spec.source_path;
  throw UserError(file + ": 'slots_per_trial': a trial may ask for " + std::to_string(most) +
                  " slots (workers that train it together), but this run has " +
                  CountOf(workers, "worker") + " (" + how + "); start at least " +
                  std::to_string(most) +
                  " workers or lower resources.slots_per_trial (and the "
                  "space's slots_per_trial)");
}

// Where a run of the study also writes its closing summary (RunLogPath) and whether the study has
// nothing left to run (FinishedMarkerPath): beside the study's token file, so that a worker
// given --token-file finds it, and so that the summary outlives a launcher that stopped
// forwarding output (mpirun under a cancelled batch job).
std::string RunLogPath(const StudySpec& spec) {
  const std::string token = StudyTokenPath(spec.storage, spec.name);
  return token.substr(0, token.size() - std::string(".token").size()) + ".log";
}
std::string FinishedMarkerPath(const std::string& token_file) {
  const std::string suffix = ".token";
  if (token_file.size() <= suffix.size() ||
      token_file.compare(token_file.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return "";
  }
  return token_file.substr(0, token_file.size() - suffix.size()) + ".finished";
}

// A run starting: the study is not finished (a larger --trials extends it) until it says so.
void ClearFinishedMarker(const StudySpec& spec) {
  std::error_code ignored;
  std::filesystem::remove(FinishedMarkerPath(StudyTokenPath(spec.storage, spec.name)), ignored);
}

// Appends `text` to the study's run log, with the time; a log that cannot be written is warned
// about, never a reason to fail the run.
void AppendRunLog(const StudySpec& spec, const std::string& text, bool finished) {
  const std::string path = RunLogPath(spec);
  std::ofstream log(path, std::ios::app);
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  log << "== run ended " << stamp << text;
  if (!log) Log(LogLevel::kWarn, "cannot write the run log ", path);
  if (finished) {
    std::ofstream marker(FinishedMarkerPath(StudyTokenPath(spec.storage, spec.name)));
    marker << "finished " << stamp << "\n";
  }
}

// "finished: 20 trials ended in ..." and the top 5 of the leaderboard.
void PrintSummary(std::ostream& out, const StudySpec& spec, Store& store,
                  const RunSummary& summary) {
  out << "\n"
      << (summary.interrupted ? "stopped" : "finished") << ": "
      << CountOf(summary.finished_this_run, "trial") << " ended in "
      << FormatSeconds(summary.seconds) << " (" << summary.stop_reason << "); study has "
      << CountOf(summary.trials, "trial") << ": " << summary.complete << " complete, "
      << summary.pruned << " pruned, " << summary.failed << " failed, " << summary.stale
      << " stale";
  if (summary.queued > 0) out << ", " << summary.queued << " queued";
  out << "\n\n";
  if (auto study = store.FindStudy(spec.name)) {
    LeaderboardOptions options;
    options.limit = 5;
    PrintLeaderboard(out, store, *study, options);
  }
}

// The run's closing summary, on stdout and appended to the study's run log (RunLogPath); a run
// that finished (not stopped) also leaves the finished marker for late workers.
int FinishRun(const StudySpec& spec, Store& store, const RunSummary& summary) {
  std::ostringstream out;
  PrintSummary(out, spec, store, summary);
  std::cout << out.str() << std::flush;
  AppendRunLog(spec, out.str(), !summary.interrupted);
  return summary.interrupted ? StoppedStatus() : kExitOk;
}

// The store failed under the run (core/error.h): what happened, and what the user keeps.
int ReportStoreError(const StoreError& e) {
  std::cerr << "error: " << e.what() << "\n";
  if (e.kind() != StoreError::Kind::kMoved) {
    std::cerr << "nothing reported above is lost; trials that were running will run again when "
                 "the study resumes\n";
  }
  std::cerr << std::flush;
  return kExitInternal;
}

struct RunOptions {
  std::string study_file;
  int workers = -1;  // -1: not given
  int threads = 0;
  int64_t trials = 0;
  std::string listen = "127.0.0.1:0";
  int max_frame_mib = static_cast<int>(kDefaultMaxFrameBytes >> 20);
  bool quiet = false;
  bool verbose = false;
  bool listen_given = false;  // --listen was on the command line
};

// The coordinator's endpoint as another machine names it: a wildcard listening address
// (0.0.0.0, ::) is no address to connect to, so the host's name stands in for it.
std::string ReachableEndpoint(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || !IsWildcardHost(endpoint.substr(0, colon))) return endpoint;
  return HostName() + endpoint.substr(colon);
}

// "coordinator listening on ... (more workers: ensweep worker --connect ...)", and for a wildcard
// address the host's addresses, for a machine that cannot resolve its name.
void PrintListening(const std::string& endpoint, const std::string& token_file) {
  const std::string reachable = ReachableEndpoint(endpoint);
  std::cout << "coordinator listening on " << endpoint
            << " (more workers: ensweep worker --connect " << reachable << " --token-file "
            << token_file << ")\n";
  if (reachable != endpoint) {
    std::cout << "this host's addresses:";
    for (const std::string& address : HostAddresses()) std::cout << " " << address;
    std::cout << " (any of them, with port " << endpoint.substr(endpoint.rfind(':') + 1)
              << ", serves for --connect)\n";
  }
  std::cout << std::flush;
}

// Workers started by `ensweep run` (local processes, MPI ranks) leave Ctrl-C, SIGTERM and SIGHUP
// to the coordinator, which puts their trials back in the queue and then stops them: a signal
// sent to every process of a job (systemd, Slurm, `kill $(pgrep ensweep)`, a hang-up) may reach
// a worker first, and its trial would otherwise count as a failed attempt. Local workers are
// stopped with SIGUSR1 (orchestrator/local_workers.cc); all exit when the coordinator goes away.
void LeaveStopSignalsToCoordinator() {
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
}

int RunCoordinatorLocal(const RunOptions& o, const StudySpec& spec) {
  const int workers = o.workers >= 0 ? o.workers : DefaultLocalWorkers(spec);
  // With --workers 0 workers join by hand: how many is theirs to decide.
  if (workers > 0) {
    CheckSlotsFit(spec, workers, o.workers > 0 ? "--workers" : "the default: give --workers");
  }
  const int threads = o.threads > 0 ? o.threads : DefaultThreads(std::max(1, workers));
  const auto [host, port] = SplitEndpoint(o.listen);
  RunLock lock(spec.storage, spec.name);
  auto store = Store::OpenForWriting(spec.storage);
  // Workers prove that they hold the study's secret before they hear about the study; local ones
  // get it in their environment (not on their command line, which `ps` shows to everyone).
  const std::string token_file = StudyTokenPath(spec.storage, spec.name);
  const std::string secret = LoadOrCreateToken(token_file);
  TcpTransportOptions transport_options;
  transport_options.secret = secret;
  transport_options.max_frame_bytes = static_cast<size_t>(o.max_frame_mib) << 20;
  transport_options.idle_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(spec.resources.heartbeat_timeout_s * 1000));
  TcpCoordinatorTransport transport(host, std::stoi(port), transport_options);
  // The second run's message offers `ensweep worker --connect` with what follows "coordinator at ".
  lock.Describe("coordinator at " + ReachableEndpoint(transport.Endpoint()) + " --token-file " +
                token_file);
  ClearFinishedMarker(spec);
  std::cout << StudyLine(spec, o.trials) << ", " << CountOf(workers, "worker") << " x "
            << CountOf(threads, "thread") << ", store " << spec.storage << "\n";
  PrintListening(transport.Endpoint(), token_file);
  std::cout << "the run's summary is also appended to " << RunLogPath(spec) << std::endl;
  InstallStopHandlers();
  CoordinatorOptions options;
  if (o.trials > 0) options.trials = o.trials;
  options.stop_requested = [] { return g_stop_requested.load(); };
  options.expected_workers = workers;
  options.progress = o.quiet ? nullptr : &std::cout;
  options.progress_view = ChooseProgressView(o.verbose, /*live_allowed=*/true);
  Coordinator coordinator(spec, *store, transport, options);
  // With the live view, the coordinator's log lines and the local workers' standard error are
  // written around it, not through it.
  const bool relay = options.progress != nullptr && options.progress_view.terminal;
  LogAroundView log_around(relay ? &coordinator.printer() : nullptr);
  ErrorRelay errors(relay ? &coordinator.printer() : nullptr);
  LocalWorkers local;
  for (int i = 0; i < workers; ++i) {
    local.Start(SelfExecutable(),
                {"worker", "--connect", transport.Endpoint(), "--threads", std::to_string(threads),
                 "--gpu", std::to_string(i), "--name", "local-" + std::to_string(i + 1), "--local",
                 "--coordinator-pid", std::to_string(getpid())},
                {"ENSWEEP_TOKEN=" + ToHex(secret)}, errors.WriteEnd());
  }
  errors.StartedAll();
  RunSummary summary;
  try {
    summary = coordinator.Run();
  } catch (const StoreError& e) {
    local.Stop(2000);
    return ReportStoreError(e);
  } catch (...) {
    local.Stop(2000);
    throw;
  }
  local.Stop(5000);
  return FinishRun(spec, *store, summary);
}

int RunUnderMpi(const RunOptions& o, const StudySpec& spec) {
  // Said before MPI_Init, which fails there with Open MPI's words only.
  if (StartedBySrunPmi2() && std::getenv("SLURM_PROCID") != nullptr &&
      std::string(std::getenv("SLURM_PROCID")) == "0") {
    std::cerr << "note: started by srun --mpi=pmi2; an Open MPI built with PMIx only (Debian's) "
                 "cannot start under it: if MPI initialisation fails below, use srun --mpi=pmix"
              << std::endl;
  }
  MpiSession mpi;
  if (mpi.size() < 2)
    throw UserError("under MPI, ensweep run needs at least 2 ranks (1 coordinator + workers)");
  const int workers_here = mpi.WorkersOnThisNode();  // collective: every rank, before any other
  if (mpi.rank() != 0) {
    const std::string log_name = "worker rank " + std::to_string(mpi.rank());
    SetLogName(log_name);
    LeaveStopSignalsToCoordinator();
    // The CPUs Slurm gave each task (--cpus-per-task), else this rank's CPUs shared among the
    // worker ranks of its node.
    const int threads = o.threads > 0
                            ? o.threads
                            : ThreadsPerWorker(UsableCpus(), workers_here, SlurmCpusPerTask());
    auto channel = MakeMpiWorkerChannel();
    WorkerOptions options;
    options.name = "rank-" + std::to_string(mpi.rank());
    // The worker ranks of a node spread over its GPUs by local rank (the coordinator's rank
    // holds one local rank of the first node and trains nothing).
    const int gpu_slot = LocalRankFromEnvironment().value_or(mpi.rank());
    return RunWorker(*channel, MakeTrainerFactory(threads, gpu_slot, log_name), options);
  }
  SetLogName("coordinator");
  int status = kExitInternal;
  try {
    // Said once, by rank 0, whose abort ends every rank.
    CheckSlotsFit(spec, mpi.size() - 1, "MPI ranks but the coordinator's");
    RunLock lock(spec.storage, spec.name);
    lock.Describe("MPI coordinator, rank 0 of " + std::to_string(mpi.size()));
    auto store = Store::OpenForWriting(spec.storage);
    auto transport = MakeMpiCoordinatorTransport();
    ClearFinishedMarker(spec);
    std::cout << StudyLine(spec, o.trials) << ", " << CountOf(mpi.size() - 1, "MPI worker rank")
              << ", store " << spec.storage << "\n";
    if (o.listen_given) {
      std::cout << "note: --listen is ignored under MPI: the coordinator takes only its MPI "
                   "ranks as workers; to let workers join with `ensweep worker --connect`, run "
                   "`ensweep run` without mpirun/srun\n";
    }
    std::cout << "the run's summary is also appended to " << RunLogPath(spec) << std::endl;
    InstallStopHandlers();
    CoordinatorOptions options;
    if (o.trials > 0) options.trials = o.trials;
    options.stop_requested = [] { return g_stop_requested.load(); };
    options.expected_workers = mpi.size() - 1;
    options.end_after_every_hello = true;  // every rank waits for its SHUTDOWN
    options.progress = o.quiet ? nullptr : &std::cout;
    // Plain lines: the worker ranks' output reaches the terminal through the launcher, which
    // knows nothing of a view drawn in place.
    options.progress_view = ChooseProgressView(o.verbose, /*live_allowed=*/false);
    Coordinator coordinator(spec, *store, *transport, options);
    status = FinishRun(spec, *store, coordinator.Run());
  } catch (const StoreError& e) {
    mpi.Abort(ReportStoreError(e));
  } catch (const UserError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    mpi.Abort(kExitBadInput);
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << std::endl;
    mpi.Abort(kExitInternal);
  }
  return status;
}

}  // namespace

Command AddRunCommand(CLI::App& root) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* app = root.add_subcommand("run", "Run or resume a study (local workers, or MPI ranks)");
  app->footer(
      "Starts a coordinator plus worker processes on this machine; under mpirun/srun, rank 0 is "
      "the\n"
      "coordinator and every other rank a worker. Running it again on the same study resumes it:\n"
      "completed trials are kept, interrupted ones run first. Ctrl-C or SIGTERM stops cleanly\n"
      "(exit 130), and so does SIGHUP, a closed terminal or dropped ssh session (exit 129).\n"
      "A closed stdout (`| head`) only ends the progress lines; the run goes on to its end.\n"
      "On a terminal, a status block (trials, best, time left, running trials) is redrawn\n"
      "below a line per finished trial; elsewhere (a file, a pipe) plain lines only, with a\n"
      "status line every 30 s. -v adds a line per epoch, -q prints only the summary.\n"
      "One run per study at a time: a second run of a running study exits with 2.\n"
      "\n"
      "Examples:\n"
      "  ensweep run studies/quickstart.yaml --workers 2\n"
      "  ensweep run studies/quickstart.yaml --trials 40     # extend the study to 40 trials\n"
      "  mpirun -np 5 ensweep run study.yaml                 # 1 coordinator + 4 worker ranks");
  app->add_option("study", o->study_file, "Study file (YAML or JSON)")->required();
  app->add_option(
         "-w,--workers", o->workers,
         "Local worker processes (default: one per visible GPU for LibTorch studies when "
         "LibTorch has CUDA, else one per 2 CPU cores); 0 starts none and waits for workers "
         "to join (`ensweep worker --connect`, e.g. a Slurm array); ignored under MPI")
      ->check(AtLeast(0));
  app->add_option("-t,--threads", o->threads,
                  "LibTorch threads per worker (default: CPU cores / workers on this machine)")
      ->check(AtLeast(1));
  app->add_option("--trials", o->trials,
                  "Trials in the whole study, overriding budget.trials: a larger number extends "
                  "a finished study (trials already run count)")
      ->check(Between(1, 1000000));
  CLI::Option* listen = app->add_option(
      "--listen", o->listen,
      "Address for workers to connect to (default 127.0.0.1:0, a free port; 0.0.0.0:PORT for "
      "workers on other machines); ignored under MPI, where only the MPI ranks are workers");
  app->add_option("--max-frame-mib", o->max_frame_mib,
                  "Largest message a worker may send, in MiB (default 16); a larger one drops "
                  "the worker")
      ->check(CLI::Range(1, 4095));
  app->add_flag("-q,--quiet", o->quiet,
                "Print no progress: only the run's opening lines and its closing summary");
  app->add_flag("-v,--verbose", o->verbose,
                "Also print a line per epoch of every trial (its metrics)");
  return {app, [o, listen] {
            o->listen_given = listen->count() > 0;
            const StudySpec spec = LoadStudyFile(o->study_file);
            if (o->trials > 0 && static_cast<size_t>(o->trials) < spec.enqueue.size()) {
              throw UserError("--trials " + std::to_string(o->trials) + ": " + o->study_file +
                              " enqueues " + CountOf(spec.enqueue.size(), "trial") +
                              ", which the budget must hold; give at least " +
                              std::to_string(spec.enqueue.size()));
            }
            if (spec.trainer.type == TrainerType::kTorch) {  // objectives: no data, no LibTorch
              FindTorchPlugin();  // a missing module stops here, not in every worker
              CheckDataExists(spec);
            }
            SetLogName("coordinator");
            IgnoreBrokenPipes();
            if (LaunchedByMpi()) return RunUnderMpi(*o, spec);
            if (const int tasks = SrunStepTasks(); tasks > 1) {
              throw UserError(PlainSrunMessage(tasks));
            }
            return RunCoordinatorLocal(*o, spec);
          }};
}

// Where a worker joined by hand finds the study's token (orchestrator/auth.h).
constexpr const char* kWhereTheTokenIs =
    "the study's token file is .<store file name>.<study>.token beside the study's store on the "
    "coordinator's machine (`ensweep run` prints its path)";

namespace {

// The secret that admits a worker (orchestrator/auth.h): from the token file, else from
// ENSWEEP_TOKEN, which is then removed so that nothing the worker starts sees it.
std::string WorkerSecret(const std::string& token_file) {
  std::string secret;
  const char* variable = std::getenv("ENSWEEP_TOKEN");
  if (!token_file.empty()) {
    secret = ReadTokenFile(token_file);
  } else if (variable != nullptr && *variable != '\0') {
    secret = DecodeToken(variable, "ENSWEEP_TOKEN");
  } else {
    throw UserError(
        "a worker needs the token of the study it joins: give --token-file "
        "FILE or set ENSWEEP_TOKEN to its contents; " +
        std::string(kWhereTheTokenIs));
  }
  unsetenv("ENSWEEP_TOKEN");
  return secret;
}

// True, after saying so, when the study whose token file is `token_file` has finished: its last
// run ended with nothing left to run (its marker beside the token file) and no run is starting.
bool StudyFinished(const std::string& token_file) {
  if (token_file.empty()) return false;
  const std::string marker = FinishedMarkerPath(token_file);
  std::error_code error;
  if (marker.empty() || !std::filesystem::exists(marker, error)) return false;
  std::cout << "the study of " << token_file << " is finished (its last run left nothing to run; "
            << marker << "); nothing to do" << std::endl;
  return true;
}

struct WorkerCommandOptions {
  std::string connect;
  std::string token_file;
  int threads = 0;
  std::string name;
  int gpu = -1;
  bool local = false;
  pid_t coordinator_pid = 0;
  double connect_timeout_s = 30;
};

// `ensweep worker`: joins the coordinator at o.connect and runs trials until it is told to go.
int RunJoinedWorker(const WorkerCommandOptions& o) {
  if (o.local) {
    LeaveStopSignalsToCoordinator();
    // A local worker ends with its coordinator, even one killed outright: otherwise it
    // would train on into the trial's folder until its next report, while a new run may
    // already be retrying that trial there.
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (o.coordinator_pid > 0 && getppid() != o.coordinator_pid) {
      std::cerr << "the coordinator (pid " << o.coordinator_pid << ") is gone" << std::endl;
      return kExitInternal;
    }
  }
  const std::string secret = WorkerSecret(o.token_file);
  const std::string name = o.name.empty() ? DefaultWorkerName() : o.name;
  const std::string log_name = "worker " + name;
  SetLogName(log_name);
  const int threads =
      o.threads > 0 ? o.threads : ThreadsPerWorker(UsableCpus(), 1, SlurmCpusPerTask());
  WorkerOptions options;
  options.name = o.name;
  TcpChannelOptions channel_options;
  channel_options.connect_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.connect_timeout_s * 1000));
  if (!o.local) {
    if (StudyFinished(o.token_file)) return kExitOk;
    InstallStopHandlers();  // a cancelled or preempted worker gives its trial back
    options.stop_requested = [] { return g_stop_requested.load(); };
    channel_options.stop_requested = options.stop_requested;
    std::cout << "connecting to " << o.connect << " (retrying for up to "
              << FormatSeconds(o.connect_timeout_s) << ")" << std::endl;
  }
  std::unique_ptr<WorkerChannel> channel;
  try {
    channel = ConnectTcp(o.connect, secret, channel_options);
  } catch (const TokenMismatch& e) {
    throw UserError(std::string(e.what()) + "; " + kWhereTheTokenIs);
  } catch (const UserError&) {
    // A worker that started after its study ended (a late array task) has nothing to do.
    if (!o.local && StudyFinished(o.token_file)) return kExitOk;
    if (g_stop_requested) return StoppedStatus();
    throw;
  }
  if (!o.local) {
    options.progress = &std::cout;
    std::cout << "connected as " << name << std::endl;
  }
  const int gpu_slot = o.gpu >= 0 ? o.gpu : LocalRankFromEnvironment().value_or(0);
  return RunWorker(*channel, MakeTrainerFactory(threads, gpu_slot, log_name), options);
}

}  // namespace

Command AddWorkerCommand(CLI::App& root) {
  auto o = std::make_shared<WorkerCommandOptions>();
  CLI::App* app = root.add_subcommand(
      "worker",
      "Join a running study as a worker (e.g. from another machine or a Slurm array job)");
  app->add_option("--connect", o->connect,
                  "The coordinator's HOST:PORT, as `ensweep run` prints it")
      ->required();
  app->add_option("--token-file", o->token_file,
                  "The study's token file, as `ensweep run` prints it (default: the token in "
                  "the ENSWEEP_TOKEN environment variable)");
  app->add_option("-t,--threads", o->threads,
                  "LibTorch threads (default: SLURM_CPUS_PER_TASK when set, else the CPUs this "
                  "process may run on)")
      ->check(AtLeast(1));
  app->add_option("--connect-timeout", o->connect_timeout_s,
                  "Seconds to keep trying to reach the coordinator (default 30): a worker may "
                  "start before its coordinator")
      ->check(CLI::Range(0.0, 86400.0));
  app->add_option("--name", o->name, "Name shown in the store (default: host:pid)");
  app->add_option("--gpu", o->gpu,
                  "GPU slot: train on CUDA device N modulo the GPUs visible (default: the "
                  "launcher's local rank, e.g. SLURM_LOCALID, else 0)")
      ->check(AtLeast(0));
  app->add_flag("--local", o->local,
                "Started by `ensweep run`: leave Ctrl-C, SIGTERM and SIGHUP to the coordinator")
      ->group("");
  app->add_option("--coordinator-pid", o->coordinator_pid,
                  "With --local: the coordinator's pid (to exit if it is already gone)")
      ->group("");
  return {app, [o] { return RunJoinedWorker(*o); }};
}

}  // namespace ensweep
