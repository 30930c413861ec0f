#include "orchestrator/local_workers.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace ensweep {

LocalWorkers::~LocalWorkers() { Stop(3000); }

pid_t SpawnProcess(const std::string& executable, const std::vector<std::string>& arguments,
                   const SpawnOptions& options) {
  std::vector<std::string> storage;
  storage.push_back(executable);
  storage.insert(storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  // This process's environment without the variables `environment` sets, then those.
  const std::vector<std::string>& environment = options.environment;
  std::vector<char*> envp;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const auto same_name = [&](const std::string& added) {
      const size_t equals = added.find('=');
      return equals != std::string::npos && variable.size() > equals &&
             variable.compare(0, equals + 1, added, 0, equals + 1) == 0;
    };
    if (std::none_of(environment.begin(), environment.end(), same_name)) envp.push_back(*entry);
  }
  std::vector<std::string> added(environment);
  for (auto& entry : added) envp.push_back(entry.data());
  envp.push_back(nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (options.own_group) {
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (const auto& [from, to] : options.dups) posix_spawn_file_actions_adddup2(&actions, from, to);
  pid_t pid = 0;
  const int status =
      posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (status != 0) {
    throw std::runtime_error("cannot start " + executable + ": " + std::strerror(status));
  }
  return pid;
}

void LocalWorkers::Start(const std::string& executable, const std::vector<std::string>& arguments,
                         const std::vector<std::string>& environment, int stderr_fd) {
  SpawnOptions options;
  options.environment = environment;
  // A process group of its own: a signal for the coordinator's group (the terminal's Ctrl-C,
  // `kill -- -PGID`) reaches only the coordinator, which puts the workers' trials back in the
  // queue and then stops them (Stop).
  options.own_group = true;
  if (stderr_fd >= 0) options.dups.emplace_back(stderr_fd, STDERR_FILENO);
  pids_.push_back(SpawnProcess(executable, arguments, options));
}

int LocalWorkers::Running() {
  pids_.erase(std::remove_if(pids_.begin(), pids_.end(),
                             [](pid_t pid) {
                               int status = 0;
                               return waitpid(pid, &status, WNOHANG) == pid;
                             }),
              pids_.end());
  return static_cast<int>(pids_.size());
}

void LocalWorkers::Stop(int grace_ms) {
  if (pids_.empty()) return;
  // SIGUSR1, not SIGTERM: local workers ignore SIGINT, SIGTERM and SIGHUP, which schedulers,
  // service managers and a closing terminal may send to every process of a job, and are the
  // coordinator's to handle (cmd_run.cc).
  for (pid_t pid : pids_) kill(pid, SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (Running() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (pid_t pid : pids_) {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  pids_.clear();
}

std::string SelfExecutable() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

}  // namespace ensweep
