// Helpers for the collective tests: a rendezvous board shared by threads, running one body per
// member on its own thread, and a raw-socket member that misbehaves on purpose.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "collective/collective.h"

namespace ensweep::collective::testing {

// What TrialContext::Rendezvous does for a gang, among threads: rank 0's blob is published and
// every other member waits for it (up to a minute, so a failing test cannot hang).
class Board {
 public:
  RendezvousFn For(int rank) {
    return [this, rank](const std::string& blob) {
      if (rank == 0) {
        promise_.set_value(blob);
        return blob;
      }
      if (future_.wait_for(std::chrono::minutes(1)) != std::future_status::ready)
        throw std::runtime_error("test board: rank 0 never published its blob");
      return future_.get();
    };
  }
  // For a member played by the test itself.
  std::string Wait() { return For(1)(""); }

 private:
  std::promise<std::string> promise_;
  std::shared_future<std::string> future_ = promise_.get_future().share();
};

// Runs body(rank) on one thread per rank; returns each rank's exception (null when it returned).
inline std::vector<std::exception_ptr> OnThreads(int ranks, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

// The message of an exception_ptr ("" when null).
inline std::string Message(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "?";
}

// A member that speaks the TCP wire format by hand (collective/tcp_wire.h) so that a test can
// send what a correct member never would. Blocking socket; closed when destroyed.
class RawMember {
 public:
  RawMember(const std::string& host, int port);
  ~RawMember();
  void Send(const void* data, size_t bytes);
  // Sends a frame header announcing `length` bytes, then `payload` (which may be shorter).
  void SendFrame(uint32_t kind, uint64_t length, const std::vector<uint8_t>& payload = {});
  // Reads one frame header; returns its kind.
  uint32_t ReadFrameKind();
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace ensweep::collective::testing
