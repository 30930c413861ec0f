// The MPI backend: a communicator over the gang's MPI_COMM_WORLD ranks, made with
// MPI_Comm_create_group (collective over the members only, so the coordinator's rank and the
// other gangs need not take part). The worker's transport initialises MPI with
// MPI_THREAD_FUNNELED and the trainer runs on the worker's main thread, so these calls are made
// from the thread that initialised MPI.
//
// Timeouts: the collectives are the non-blocking MPI_Iallreduce / MPI_Ibcast / MPI_Ibarrier,
// polled with MPI_Test until done or the limit passes (then std::runtime_error; the group is
// broken and its pending request abandoned). Errors on the gang's communicator return codes
// (MPI_ERRORS_RETURN) that become std::runtime_error. But under mpirun a member process that
// dies normally makes mpirun abort the whole job (Open MPI's default), so the other members
// rarely get to see an error: losing an MPI rank loses the run, not just the trial.
#include <mpi.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "collective/collective.h"

namespace ensweep::collective {
namespace {

using Clock = std::chrono::steady_clock;

// The tag MPI_Comm_create_group uses: derived from the gang key so that two gangs forming at
// once (which never share a member) use different tags, and kept clear of the protocol's tag
// (orchestrator/message.h, 7701) and within the 32767 every MPI guarantees.
int GroupTag(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return 10000 + static_cast<int>(h % 20000);
}

std::string ErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

void Check(int code, const std::string& what) {
  if (code != MPI_SUCCESS) throw std::runtime_error("mpi: " + what + ": " + ErrorText(code));
}

class MpiGroup : public Group {
 public:
  MpiGroup(MPI_Comm comm, int rank, int size, std::chrono::milliseconds timeout)
      : comm_(comm), rank_(rank), size_(size), timeout_(timeout) {}
  ~MpiGroup() override {
    // A pending request (a timed-out collective) would make MPI_Comm_free wait: leave it.
    if (broken_.empty() && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  Memory memory() const override { return Memory::kHost; }

  void AllReduceSum(void* data, size_t count, DType dtype) override {
    const MPI_Datatype type = dtype == DType::kFloat64 ? MPI_DOUBLE : MPI_FLOAT;
    const size_t step = static_cast<size_t>(std::numeric_limits<int>::max());
    char* p = static_cast<char*>(data);
    for (size_t off = 0; off < count; off += step) {
      const int n = static_cast<int>(std::min(step, count - off));
      Run("all-reduce", [&](MPI_Request* request) {
        return MPI_Iallreduce(MPI_IN_PLACE, p + off * DTypeSize(dtype), n, type, MPI_SUM, comm_,
                              request);
      });
    }
  }

  void Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_)
      throw std::invalid_argument("mpi: broadcast root " + std::to_string(root) +
                                  " is not a member");
    const size_t step = static_cast<size_t>(std::numeric_limits<int>::max());
    char* p = static_cast<char*>(data);
    for (size_t off = 0; off < bytes; off += step) {
      const int n = static_cast<int>(std::min(step, bytes - off));
      Run("broadcast", [&](MPI_Request* request) {
        return MPI_Ibcast(p + off, n, MPI_BYTE, root, comm_, request);
      });
    }
  }

  void Barrier() override {
    Run("barrier", [&](MPI_Request* request) { return MPI_Ibarrier(comm_, request); });
  }

 private:
  // Starts a non-blocking collective and polls it to completion within the limit.
  template <typename Start>
  void Run(const char* what, Start start) {
    if (!broken_.empty()) throw std::runtime_error(broken_);
    if (size_ == 1) return;
    try {
      MPI_Request request = MPI_REQUEST_NULL;
      Check(start(&request), what);
      const auto deadline = Clock::now() + timeout_;
      int done = 0;
      int spins = 0;
      while (true) {
        Check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
        if (done) return;
        if (Clock::now() >= deadline)
          throw std::runtime_error("mpi: " + std::string(what) + " timed out after " +
                                   std::to_string(timeout_.count()) + " ms");
        if (++spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    } catch (const std::runtime_error& e) {
      broken_ = std::string(e.what()) + " (member " + std::to_string(rank_) + ")";
      throw std::runtime_error(broken_);
    }
  }

  MPI_Comm comm_;
  const int rank_;
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::string broken_;
};

void CheckGang(const GangInfo& gang, int world_size) {
  if (gang.size < 1 || gang.rank < 0 || gang.rank >= gang.size)
    throw std::invalid_argument("mpi: rank " + std::to_string(gang.rank) + " of a gang of " +
                                std::to_string(gang.size));
  if (static_cast<int>(gang.mpi_ranks.size()) != gang.size)
    throw std::runtime_error("mpi: the gang has " + std::to_string(gang.size) + " members but " +
                             std::to_string(gang.mpi_ranks.size()) + " MPI ranks");
  for (int r : gang.mpi_ranks)
    if (r < 0 || r >= world_size)
      throw std::runtime_error("mpi: rank " + std::to_string(r) + " is not in MPI_COMM_WORLD (" +
                               std::to_string(world_size) + " ranks)");
}

// Checks that rank 0 chose MPI too (the members must agree on the backend).
void AgreeOnBackend(const GangInfo& gang, const RendezvousFn& rendezvous) {
  if (gang.size == 1) return;
  const nlohmann::json mine = {{"backend", "mpi"}, {"size", gang.size}};
  const std::string text = rendezvous(gang.rank == 0 ? mine.dump() : "");
  nlohmann::json theirs;
  try {
    theirs = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("mpi: rank 0's rendezvous blob is not JSON");
  }
  if (theirs.value("backend", "") != "mpi" || theirs.value("size", 0) != gang.size)
    throw std::runtime_error("mpi: rank 0 formed another communicator (" + text +
                             "); the members disagree about the device or the build");
}

}  // namespace

bool MpiAvailable() { return true; }

std::unique_ptr<Group> ConnectMpi(const GangInfo& gang, const RendezvousFn& rendezvous,
                                  const Options& options) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    throw std::runtime_error(
        "mpi: MPI is not initialised in this process (the gang's workers "
        "must be started by mpirun or srun)");
  int world_size = 0, world_rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  CheckGang(gang, world_size);
  if (gang.mpi_ranks[static_cast<size_t>(gang.rank)] != world_rank)
    throw std::runtime_error("mpi: gang rank " + std::to_string(gang.rank) + " is MPI rank " +
                             std::to_string(gang.mpi_ranks[static_cast<size_t>(gang.rank)]) +
                             ", but this process is rank " + std::to_string(world_rank));
  AgreeOnBackend(gang, rendezvous);

  MPI_Group world_group = MPI_GROUP_NULL, gang_group = MPI_GROUP_NULL;
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  MPI_Group_incl(world_group, gang.size, gang.mpi_ranks.data(), &gang_group);
  MPI_Comm comm = MPI_COMM_NULL;
  const int rc = MPI_Comm_create_group(MPI_COMM_WORLD, gang_group, GroupTag(gang.key), &comm);
  MPI_Group_free(&gang_group);
  MPI_Group_free(&world_group);
  Check(rc, "MPI_Comm_create_group for gang " + gang.key);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != gang.rank) {
    MPI_Comm_free(&comm);
    throw std::runtime_error("mpi: the gang's communicator made this member rank " +
                             std::to_string(rank) + ", not " + std::to_string(gang.rank));
  }
  return std::make_unique<MpiGroup>(comm, gang.rank, gang.size, options.timeout);
}

}  // namespace ensweep::collective
