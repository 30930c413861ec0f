// The coordinator-worker protocol: small self-describing JSON messages.
//
// Every message is a JSON object {"type": "<TYPE>", ...fields}. Over TCP each is sent as a 4-byte
// big-endian length followed by the UTF-8 JSON text; over MPI as one MPI_CHAR message with tag
// kMpiTag. The conversation, step by step:
//
//  1. worker -> HELLO     {protocol, name, host, pid}
//  2. coord  -> WELCOME   {worker_id, study}          study: the normalised study spec (JSON)
//  3. worker -> READY     {device}                     the trainer is built; the worker is idle
//  4. coord  -> RUN       {trial, params, seed, epochs, artifact_dir, attempt}
//  5. worker -> REPORT    {trial, epoch, metrics}      after every epoch
//     coord  -> CONTINUE  {trial}  or  STOP {trial}   the pruner's decision; the worker waits for
//     it
//  6. worker -> DONE      {trial, metrics, artifacts, epochs, stopped_early}
//     or        FAIL      {trial, error, epochs}       the trial threw; the worker stays usable
//     ...and is idle again: back to 4.
//  *  worker -> HEARTBEAT {}                            while busy, at most every few seconds
//  *  coord  -> SHUTDOWN  {reason}                      the worker stops what it does and exits
//
// A worker whose connection drops, or that is silent for longer than the study's heartbeat
// timeout, is lost: its trial becomes STALE and is retried elsewhere. Messages from a lost
// worker are ignored. A worker that loses its coordinator exits.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace ensweep {

inline constexpr int kProtocolVersion = 1;
inline constexpr int kMpiTag = 7701;
// Frames larger than this are a protocol error (a study spec is a few kilobytes).
inline constexpr size_t kMaxFrameBytes = 64u << 20;

namespace msg {
inline constexpr const char* kHello = "HELLO";
inline constexpr const char* kWelcome = "WELCOME";
inline constexpr const char* kReady = "READY";
inline constexpr const char* kRun = "RUN";
inline constexpr const char* kReport = "REPORT";
inline constexpr const char* kContinue = "CONTINUE";
inline constexpr const char* kStop = "STOP";
inline constexpr const char* kDone = "DONE";
inline constexpr const char* kFail = "FAIL";
inline constexpr const char* kHeartbeat = "HEARTBEAT";
inline constexpr const char* kShutdown = "SHUTDOWN";
}  // namespace msg

struct Message {
  std::string type;
  nlohmann::json body = nlohmann::json::object();  // fields other than "type"
};

class ProtocolError : public std::runtime_error {
 public:
  explicit ProtocolError(const std::string& what) : std::runtime_error(what) {}
};

// The peer closed the connection, or the channel was shut down.
class ChannelClosed : public std::runtime_error {
 public:
  explicit ChannelClosed(const std::string& what) : std::runtime_error(what) {}
};

std::string EncodeMessage(const Message& message);
// Throws ProtocolError for text that is not a JSON object with a string "type".
Message DecodeMessage(const std::string& text);

}  // namespace ensweep
