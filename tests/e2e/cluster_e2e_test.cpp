// End to end: what a batch cluster does to a run, without the cluster: a finished study
// resubmitted under mpirun, srun's tasks without an MPI plug-in, CPUs given by affinity or
// SLURM_CPUS_PER_TASK, a worker stopped by SIGTERM, a worker that starts after its study ended,
// a coordinator listening on every interface. tests/slurm/run.sh does the same under Slurm.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;

namespace {

// A study of `trials` trials of the curve objective, `epochs` epochs of `epoch_time` each.
fs::path CurveStudy(const fs::path& dir, int trials, int epochs, const std::string& epoch_time) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: cluster\n"
                       << "storage: " << (dir / "store.sqlite").string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << "trainer: {type: curve, epoch_time: " << epoch_time << ", noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: " << trials << ", epochs: " << epochs << "}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  return study;
}

std::string AsRoot() {
  return geteuid() == 0 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
}

// Starts `ensweep worker` with `args` in a process group of its own, output to `output`.
pid_t StartWorker(const std::vector<std::string>& args, const fs::path& output) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> all = {Ensweep(), "worker"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// The coordinator's "--connect HOST:PORT --token-file FILE" from its first lines.
std::pair<std::string, std::string> JoinArguments(const std::string& output) {
  std::smatch m;
  const std::regex pattern("ensweep worker --connect (\\S+) --token-file (\\S+)\\)");
  REQUIRE(std::regex_search(output, m, pattern));
  return {m[1], m[2]};
}

}  // namespace

#if ENSWEEP_WITH_MPI
TEST_CASE("a finished study resubmitted under mpirun ends at once", "[e2e][mpi][cluster]") {
  const fs::path dir = FreshDir("mpi_finished");
  const fs::path study = CurveStudy(dir, 3, 1, "0s");
  const std::string mpirun =
      AsRoot() + "timeout 60 mpirun -np 3 --oversubscribe " + Ensweep() + " run " + study.string();
  const auto first = RunCommand(mpirun);
  INFO(first.output);
  REQUIRE(first.status == 0);
  // Again: nothing to run. Every worker rank must still be told to go, or MPI_Finalize waits
  // for them for ever (timeout's 124 here).
  const auto again = RunCommand(mpirun);
  INFO(again.output);
  CHECK(again.status == 0);
  CHECK_THAT(again.output, Catch::Contains("nothing to run"));
  CHECK_THAT(again.output, Catch::Contains("finished: 0 trials"));
}

TEST_CASE("a run under mpirun says that --listen is ignored there", "[e2e][mpi][cluster]") {
  const fs::path dir = FreshDir("mpi_listen");
  const fs::path study = CurveStudy(dir, 2, 1, "0s");
  const auto run = RunCommand(AsRoot() + "timeout 60 mpirun -np 2 --oversubscribe " + Ensweep() +
                              " run " + study.string() + " --listen 0.0.0.0:0");
  INFO(run.output);
  CHECK(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("--listen is ignored under MPI"));
}
#endif

TEST_CASE("srun's tasks without an MPI plug-in are refused with the launch to use",
          "[e2e][cluster]") {
  const fs::path dir = FreshDir("plain_srun");
  const fs::path study = CurveStudy(dir, 2, 1, "0s");
  // What srun sets in each task without a PMI plug-in, and nothing an MPI launcher sets.
  const auto run = RunCommand(
      "env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_SIZE SLURM_PROCID=2 "
      "SLURM_STEP_NUM_TASKS=5 SLURM_NTASKS=5 " +
      Ensweep() + " run " + study.string());
  INFO(run.output);
  CHECK(run.status == 2);
  CHECK_THAT(run.output, Catch::Contains("srun --mpi=pmix -n 5"));
  CHECK_FALSE(fs::exists(dir / "store.sqlite"));
  // One task (srun -n 1) is a local run.
  const auto one = RunCommand("SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 " + Ensweep() + " run " +
                              study.string() + " --workers 1");
  INFO(one.output);
  CHECK(one.status == 0);
}

TEST_CASE("threads per worker follow the CPUs the process may use", "[e2e][cluster]") {
  const fs::path dir = FreshDir("threads");
  const fs::path study = CurveStudy(dir, 1, 1, "0s");
  // Pinned to one CPU, as taskset or a scheduler's task plug-in pins it.
  const auto pinned = RunCommand("taskset -c \"$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')\" " +
                                 Ensweep() + " run " + study.string() + " --workers 1 --trials 1");
  INFO(pinned.output);
  REQUIRE(pinned.status == 0);
  CHECK_THAT(pinned.output, Catch::Contains("1 worker x 1 thread,"));
  // Slurm's --cpus-per-task bounds them too, whatever the machine has.
  const auto slurm = RunCommand("SLURM_CPUS_PER_TASK=1 " + Ensweep() + " run " + study.string() +
                                " --workers 1 --trials 2");
  INFO(slurm.output);
  REQUIRE(slurm.status == 0);
  CHECK_THAT(slurm.output, Catch::Contains("1 worker x 1 thread,"));
}

TEST_CASE("a worker stopped by SIGTERM gives its trial back and no retry is charged",
          "[e2e][cluster]") {
  const fs::path dir = FreshDir("worker_sigterm");
  const fs::path study = CurveStudy(dir, 4, 4, "0.25s");
  const pid_t run = StartRun(study, 1, dir / "run.txt");
  REQUIRE(WaitFor(dir / "run.txt", "--token-file"));
  const auto [endpoint, token] = JoinArguments(ReadFile(dir / "run.txt"));
  const pid_t worker = StartWorker(
      {"--connect", endpoint, "--token-file", token, "--name", "leaver"}, dir / "worker.txt");
  REQUIRE(WaitFor(dir / "worker.txt", " started: "));
  kill(worker, SIGTERM);
  const int worker_status = WaitExit(worker);
  const std::string worker_output = ReadFile(dir / "worker.txt");
  INFO(worker_output);
  CHECK(worker_status == 130);
  CHECK_THAT(worker_output, Catch::Contains("given back"));
  const int run_status = WaitExit(run);
  const std::string run_output = ReadFile(dir / "run.txt");
  INFO(run_output);
  REQUIRE(run_status == 0);
  CHECK_THAT(run_output, Catch::Contains("given back by worker leaver"));
  const auto store = Store::OpenReadOnly((dir / "store.sqlite").string());
  const auto trials = store->Trials(store->FindStudy("cluster")->id);
  REQUIRE(trials.size() == 4);
  for (const auto& t : trials) {
    INFO("trial " << t.number);
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.retries == 0);
  }
  // The summary is in the run log beside the store too.
  CHECK_THAT(ReadFile(dir / ".store.sqlite.cluster.log"), Catch::Contains("finished: "));

  // A worker that starts once the study is finished (a late array task) exits 0 at once.
  const auto late = RunCommand(Ensweep() + " worker --connect " + endpoint + " --token-file " +
                               token + " --connect-timeout 600");
  INFO(late.output);
  CHECK(late.status == 0);
  CHECK_THAT(late.output, Catch::Contains("is finished"));
}

TEST_CASE("a worker gives up on a coordinator that never comes after --connect-timeout",
          "[e2e][cluster]") {
  const fs::path dir = FreshDir("connect_timeout");
  const fs::path study = CurveStudy(dir, 1, 1, "0s");
  const auto run = RunCommand(Ensweep() + " run " + study.string() + " --workers 1");
  REQUIRE(run.status == 0);
  const auto [endpoint, token] = JoinArguments(run.output);
  // Not finished any more: a larger budget was asked for, by a run that then failed to start.
  fs::remove(dir / ".store.sqlite.cluster.finished");
  const auto late = RunCommand(Ensweep() + " worker --connect 127.0.0.1:1 --token-file " + token +
                               " --connect-timeout 0.5");
  INFO(late.output);
  CHECK(late.status == 2);
  CHECK_THAT(late.output, Catch::Contains("retrying for up to 0.5s"));
  CHECK_THAT(late.output, Catch::Contains("cannot connect to coordinator at 127.0.0.1:1"));
}

TEST_CASE("a coordinator on every interface offers its host's name to workers", "[e2e][cluster]") {
  const fs::path dir = FreshDir("listen_wildcard");
  const fs::path study = CurveStudy(dir, 1, 1, "0s");
  const auto run =
      RunCommand(Ensweep() + " run " + study.string() + " --workers 1 --listen 0.0.0.0:0");
  INFO(run.output);
  REQUIRE(run.status == 0);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  CHECK_THAT(run.output, Catch::Contains("coordinator listening on 0.0.0.0:"));
  CHECK_THAT(run.output, Catch::Contains("ensweep worker --connect " + std::string(host) + ":"));
  CHECK_THAT(run.output, !Catch::Contains("--connect 0.0.0.0"));
  CHECK_THAT(run.output, Catch::Contains("this host's addresses:"));
}
