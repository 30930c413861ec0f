// Worker processes on this machine, started by `ensweep run --workers N`.
//
// Each is this same executable run as `ensweep worker --connect <endpoint> ...`. The object owns
// the processes: its destructor asks them to end (SIGTERM), waits briefly, then kills what is left.
// Not thread-safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace ensweep {

class LocalWorkers {
 public:
  LocalWorkers() = default;
  ~LocalWorkers();
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;

  // Starts `executable` with `arguments` (argv[1..]) in a process group of its own, so that
  // signals for the coordinator's group do not reach it. Throws std::runtime_error on failure.
  // Stop() ends the processes with SIGUSR1 (then SIGKILL after the grace time). `environment`
  // ("NAME=value" entries) is added to this process's environment for the child only, replacing
  // variables of the same names: a way to hand it a secret that `ps` does not show.
  // `stderr_fd` >= 0: the child's standard error (else it shares this process's).
  void Start(const std::string& executable, const std::vector<std::string>& arguments,
             const std::vector<std::string>& environment = {}, int stderr_fd = -1);
  // Reaps exited processes without blocking; returns how many are still running.
  int Running();
  // SIGTERM to all, up to `grace_ms` to exit, then SIGKILL; reaps them all.
  void Stop(int grace_ms);

 private:
  std::vector<pid_t> pids_;
};

// The path of the running executable (/proc/self/exe).
std::string SelfExecutable();

// How SpawnProcess starts a child.
struct SpawnOptions {
  // "NAME=value" entries added to this process's environment for the child only, replacing
  // variables of the same names.
  std::vector<std::string> environment;
  // In a process group of its own (signals for this process's group do not reach it), or in
  // this process's group (a terminal's Ctrl-C reaches both).
  bool own_group = false;
  // dup2(from, to) in the child before it starts, in this order.
  std::vector<std::pair<int, int>> dups;
};

// Starts `executable` with `arguments` (argv[1..]) and returns its pid; the caller reaps it.
// Throws std::runtime_error naming the executable when it cannot start.
pid_t SpawnProcess(const std::string& executable, const std::vector<std::string>& arguments,
                   const SpawnOptions& options);

}  // namespace ensweep
