// The NCCL backend: one NCCL communicator per gang attempt on this member's GPU, made and used in
// NCCL's non-blocking mode so that every wait is a poll bounded by the limit. Rank 0 creates the
// unique id and passes it, as hex, in its rendezvous blob. On a timeout or an error the
// communicator is aborted (ncclCommAbort), which releases the other members' pending calls with
// an error of their own.
//
// Ordering with the trainer's kernels: before each collective the device is synchronised, so the
// buffers hold what every stream wrote to them; after it, the call returns only once the
// collective's stream is done. Simple and correct whatever streams the trainer uses; the price is
// that a collective does not overlap with computation.
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "collective/collective.h"

namespace ensweep::collective {
namespace {

using Clock = std::chrono::steady_clock;

void CheckCuda(cudaError_t code, const std::string& what) {
  if (code != cudaSuccess)
    throw std::runtime_error("nccl: " + what + ": " + cudaGetErrorString(code));
}

std::string Hex(const char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

ncclUniqueId IdFromHex(const std::string& hex) {
  ncclUniqueId id{};
  if (hex.size() != 2 * sizeof id.internal)
    throw std::runtime_error("nccl: rank 0's unique id is not " +
                             std::to_string(sizeof id.internal) + " bytes of hex");
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error("nccl: rank 0's unique id is not lower-case hex");
  };
  for (size_t i = 0; i < sizeof id.internal; ++i)
    id.internal[i] = static_cast<char>(value(hex[2 * i]) * 16 + value(hex[2 * i + 1]));
  return id;
}

class NcclGroup : public Group {
 public:
  NcclGroup(int rank, int size, int device, std::chrono::milliseconds timeout)
      : rank_(rank), size_(size), device_(device), timeout_(timeout) {}

  // Finalises (flushing what was issued) when healthy, within the limit capped at 30 s, and
  // aborts otherwise, so that destroying a group never waits on a lost member for long.
  ~NcclGroup() override {
    if (comm_ != nullptr) {
      bool finalized = false;
      const ncclResult_t rc = broken_.empty() ? ncclCommFinalize(comm_) : ncclInvalidUsage;
      if (rc == ncclSuccess || rc == ncclInProgress) {
        try {
          WaitForComm("ncclCommFinalize", Clock::now() + std::min<std::chrono::milliseconds>(
                                                             timeout_, std::chrono::seconds(30)));
          finalized = true;
        } catch (const std::runtime_error&) {
        }
      }
      if (finalized)
        ncclCommDestroy(comm_);
      else
        ncclCommAbort(comm_);
    }
    if (barrier_buffer_ != nullptr) cudaFree(barrier_buffer_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  Memory memory() const override { return Memory::kDevice; }

  // Creates the stream and the communicator within `limit`; the unique id is the same on every
  // member.
  void Init(const ncclUniqueId& id, std::chrono::milliseconds limit) {
    CheckCuda(cudaSetDevice(device_), "cudaSetDevice(" + std::to_string(device_) + ")");
    CheckCuda(cudaStreamCreate(&stream_), "cudaStreamCreate");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t rc = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
    Guard("ncclCommInitRankConfig", [&](Clock::time_point) {
      if (rc != ncclSuccess && rc != ncclInProgress) Fail("ncclCommInitRankConfig", rc);
      WaitForComm("ncclCommInitRankConfig", Clock::now() + limit);
    });
  }

  void AllReduceSum(void* data, size_t count, DType dtype) override {
    Guard("all-reduce", [&](Clock::time_point deadline) {
      const ncclDataType_t type = dtype == DType::kFloat64 ? ncclFloat64 : ncclFloat32;
      Collective("ncclAllReduce", deadline,
                 [&] { return ncclAllReduce(data, data, count, type, ncclSum, comm_, stream_); });
    });
  }

  void Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_)
      throw std::invalid_argument("nccl: broadcast root " + std::to_string(root) +
                                  " is not a member");
    Guard("broadcast", [&](Clock::time_point deadline) {
      Collective("ncclBroadcast", deadline,
                 [&] { return ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_); });
    });
  }

  // NCCL has no barrier: an all-reduce of one float in device memory stands in.
  void Barrier() override {
    Guard("barrier", [&](Clock::time_point deadline) {
      if (barrier_buffer_ == nullptr)
        CheckCuda(cudaMalloc(&barrier_buffer_, sizeof(float)), "cudaMalloc");
      Collective("ncclAllReduce", deadline, [&] {
        return ncclAllReduce(barrier_buffer_, barrier_buffer_, 1, ncclFloat32, ncclSum, comm_,
                             stream_);
      });
    });
  }

 private:
  [[noreturn]] void Fail(const std::string& what, ncclResult_t rc) {
    std::string text = what + ": " + ncclGetErrorString(rc);
    if (comm_ != nullptr) {
      const char* last = ncclGetLastError(comm_);
      if (last != nullptr && *last != '\0') text += " (" + std::string(last) + ")";
    }
    throw std::runtime_error(text);
  }

  // Polls the communicator until its pending operation has left ncclInProgress.
  void WaitForComm(const std::string& what, Clock::time_point deadline) {
    while (true) {
      ncclResult_t state = ncclSuccess;
      const ncclResult_t rc = ncclCommGetAsyncError(comm_, &state);
      if (rc != ncclSuccess) Fail(what, rc);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) Fail(what, state);
      if (Clock::now() >= deadline) throw std::runtime_error(what + " timed out");
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  // Enqueues one collective after the device's pending work and waits for its stream.
  template <typename Enqueue>
  void Collective(const std::string& what, Clock::time_point deadline, Enqueue enqueue) {
    CheckCuda(cudaSetDevice(device_), "cudaSetDevice");
    CheckCuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize before " + what);
    const ncclResult_t rc = enqueue();
    if (rc != ncclSuccess && rc != ncclInProgress) Fail(what, rc);
    WaitForComm(what, deadline);
    while (true) {
      const cudaError_t done = cudaStreamQuery(stream_);
      if (done == cudaSuccess) return;
      if (done != cudaErrorNotReady) CheckCuda(done, what);
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state != ncclSuccess && state != ncclInProgress) Fail(what, state);
      if (Clock::now() >= deadline) throw std::runtime_error(what + " timed out");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  // Runs a step; on any error the group is broken and the communicator aborted.
  template <typename Body>
  void Guard(const char* what, Body body) {
    if (!broken_.empty()) throw std::runtime_error(broken_);
    try {
      body(Clock::now() + timeout_);
    } catch (const std::exception& e) {
      std::string text = e.what();
      if (text.rfind("nccl:", 0) != 0) text = "nccl: " + text;
      broken_ = text + " (" + what + ", member " + std::to_string(rank_) + " of " +
                std::to_string(size_) + ", limit " + std::to_string(timeout_.count()) + " ms)";
      if (comm_ != nullptr) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
      }
      throw std::runtime_error(broken_);
    }
  }

  const int rank_;
  const int size_;
  const int device_;
  const std::chrono::milliseconds timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* barrier_buffer_ = nullptr;
  std::string broken_;
};

}  // namespace

bool NcclAvailable() { return true; }

int CudaDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::unique_ptr<Group> ConnectNccl(const GangInfo& gang, const RendezvousFn& rendezvous,
                                   int device_index, const Options& options) {
  if (gang.size < 1 || gang.rank < 0 || gang.rank >= gang.size)
    throw std::invalid_argument("nccl: rank " + std::to_string(gang.rank) + " of a gang of " +
                                std::to_string(gang.size));
  int count = 0;
  const cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess || count == 0)
    throw std::runtime_error(std::string("nccl: no GPU visible (cudaGetDeviceCount: ") +
                             (rc != cudaSuccess ? cudaGetErrorString(rc) : "0 devices") +
                             "); gang " + gang.key + " cannot form an NCCL communicator");
  if (device_index < 0 || device_index >= count)
    throw std::runtime_error("nccl: device cuda:" + std::to_string(device_index) + " of " +
                             std::to_string(count) + " visible");
  CheckCuda(cudaSetDevice(device_index), "cudaSetDevice(" + std::to_string(device_index) + ")");
  ncclUniqueId id{};
  if (gang.rank == 0) {
    const ncclResult_t got = ncclGetUniqueId(&id);
    if (got != ncclSuccess)
      throw std::runtime_error(std::string("nccl: ncclGetUniqueId: ") + ncclGetErrorString(got));
    if (gang.size > 1) {
      const nlohmann::json blob = {{"backend", "nccl"},
                                   {"size", gang.size},
                                   {"key", gang.key},
                                   {"id", Hex(id.internal, sizeof id.internal)}};
      rendezvous(blob.dump());
    }
  } else {
    const std::string text = rendezvous("");
    nlohmann::json blob;
    try {
      blob = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error("nccl: rank 0's rendezvous blob is not JSON");
    }
    if (blob.value("backend", "") != "nccl" || blob.value("size", 0) != gang.size ||
        blob.value("key", gang.key) != gang.key)
      throw std::runtime_error("nccl: rank 0 formed another communicator (" + text +
                               "); the members disagree about the device or the build");
    id = IdFromHex(blob.value("id", ""));
  }
  auto group = std::make_unique<NcclGroup>(gang.rank, gang.size, device_index, options.timeout);
  group->Init(id, options.FormTimeout());
  return group;
}

}  // namespace ensweep::collective
