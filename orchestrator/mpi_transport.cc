#include "orchestrator/mpi_transport.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

namespace ensweep {
namespace {

// Waiting for a message: MPI_Iprobe in a tight loop (yielding the core) for the first
// kSpinProbes tries, so that a reply already on its way is taken within microseconds, then
// sleeps from kMinSleep doubling up to kMaxSleep, so that an idle rank (a worker training for
// minutes, a coordinator between long trials) costs at most a few thousand probes a second.
// Every wait starts spinning again.
constexpr int kSpinProbes = 200;
constexpr auto kMinSleep = std::chrono::microseconds(5);
constexpr auto kMaxSleep = std::chrono::microseconds(500);

class ProbeBackoff {
 public:
  void Wait() {
    if (spins_ < kSpinProbes) {
      ++spins_;
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min(kMaxSleep, sleep_ * 2);
  }

 private:
  int spins_ = 0;
  std::chrono::microseconds sleep_ = kMinSleep;
};

// Receives one pending message from `source` (or any) if there is one.
std::optional<std::pair<int, std::string>> TryReceive(int source) {
  int flag = 0;
  MPI_Status status;
  MPI_Iprobe(source, kMpiTag, MPI_COMM_WORLD, &flag, &status);
  if (!flag) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  std::string text(static_cast<size_t>(count), '\0');
  MPI_Recv(text.data(), count, MPI_CHAR, status.MPI_SOURCE, kMpiTag, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return std::make_pair(status.MPI_SOURCE, std::move(text));
}

void SendText(int destination, const std::string& text) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, destination, kMpiTag,
           MPI_COMM_WORLD);
}

class MpiCoordinatorTransport : public CoordinatorTransport {
 public:
  std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    ProbeBackoff backoff;
    while (true) {
      while (auto received = TryReceive(MPI_ANY_SOURCE)) {
        if (dropped_.count(received->first)) continue;
        try {
          return TransportEvent{TransportEvent::Kind::kMessage, received->first,
                                DecodeMessage(received->second), ""};
        } catch (const ProtocolError& e) {
          dropped_.insert(received->first);
          return TransportEvent{TransportEvent::Kind::kLost, received->first, {}, e.what()};
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      backoff.Wait();
    }
  }

  void Send(int peer, const Message& message) override {
    if (dropped_.count(peer)) return;
    SendText(peer, EncodeMessage(message));
  }

  void Disconnect(int peer) override { dropped_.insert(peer); }
  std::string Endpoint() const override { return "mpi"; }

 private:
  std::set<int> dropped_;
};

class MpiWorkerChannel : public WorkerChannel {
 public:
  void Send(const Message& message) override { SendText(0, EncodeMessage(message)); }

  Message Receive() override {
    ProbeBackoff backoff;
    while (true) {
      if (auto received = TryReceive(0)) return DecodeMessage(received->second);
      backoff.Wait();
    }
  }

  std::optional<Message> ReceiveArrived() override {
    if (auto received = TryReceive(0)) return DecodeMessage(received->second);
    return std::nullopt;
  }
};

}  // namespace

MpiSession::MpiSession() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

int MpiSession::WorkersOnThisNode() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  int ranks_here = 1;
  MPI_Comm_size(node, &ranks_here);
  const int is_coordinator = rank_ == 0 ? 1 : 0;
  int coordinator_here = 0;
  MPI_Allreduce(&is_coordinator, &coordinator_here, 1, MPI_INT, MPI_MAX, node);
  MPI_Comm_free(&node);
  return std::max(1, ranks_here - coordinator_here);
}

void MpiSession::Abort(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::exit(status);
}

std::unique_ptr<CoordinatorTransport> MakeMpiCoordinatorTransport() {
  return std::make_unique<MpiCoordinatorTransport>();
}

std::unique_ptr<WorkerChannel> MakeMpiWorkerChannel() {
  return std::make_unique<MpiWorkerChannel>();
}

}  // namespace ensweep
