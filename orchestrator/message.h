// The coordinator-worker protocol: small self-describing JSON messages, one typed struct each.
//
// Every message is a JSON object {"type": "<TYPE>", ...fields}. Over TCP each is sent as a 4-byte
// big-endian length followed by the UTF-8 JSON text; over MPI as one MPI_CHAR message with tag
// kMpiTag; in-process as the same text. Two layers:
//
//  - framing: Message {type, body}, EncodeMessage / DecodeMessage (text <-> an object with a
//    string "type"); what the transports move.
//  - typed: one struct per message type below (msg::Hello, ..., msg::Shutdown) with one Encode and
//    one Decode<Type> each. Decoding checks every field: present, of its JSON type, in range
//    (limits below); a field that fails throws ProtocolError naming the message type and the
//    field. Fields the struct does not name are ignored.
//
// The conversation, step by step:
//
//  1. worker -> HELLO     {protocol, name, host, pid}
//  2. coord  -> WELCOME   {study}                      study: the normalised study spec (JSON)
//  3. worker -> READY     {device, gangs}               the trainer is built; the worker is idle;
//                                                      gangs: it can be a member of a gang
//  4. coord  -> RUN       {trial, params, seed, epochs, artifact_dir[, gang]}
//  5. worker -> REPORT    {trial, epoch, metrics}       after every epoch
//     coord  -> CONTINUE  {trial}  or  STOP {trial}    the pruner's decision; the worker waits
//  6. worker -> DONE      {trial, metrics, artifacts, epochs, stopped_early}
//     or        FAIL      {trial, error}                the trial threw; the worker stays usable
//     or        INTERRUPTED {trial, reason}             the worker was told to stop (SIGTERM);
//                                                       the trial is queued again, no retry
//                                                       charged, and the worker exits
//     ...and is idle again: back to 4.
//  *  worker -> HEARTBEAT {}    while busy, at most every few seconds
//  *  coord  -> HEARTBEAT {}    to every worker without a trial, and to a gang member waiting for
//                              the rendezvous or for rank 0's epoch, every min(5 s, timeout / 3);
//     worker -> HEARTBEAT {}    its answer (an idle worker says nothing else)
//  *  coord  -> SHUTDOWN  {reason}                       the worker stops what it does and exits
//
// A gang trial (slots_per_trial N > 1, core/trainer.h GangInfo) is one RUN to each of N workers,
// the same but for gang.rank; gang {size, rank, key, mpi_ranks}: key is unique per attempt (the
// study, the trial number, the attempt). Then:
//
//  a. rank 0  -> RENDEZVOUS {trial, blob}   once, before training (what the others need to join
//                                           its communicator)
//     coord   -> RENDEZVOUS {trial, blob}   relayed to every other member, which waits for it
//  b. every member REPORTs every epoch; the coordinator records rank 0's (the others' metrics are
//     ignored) and answers a member's epoch e with CONTINUE or STOP only once rank 0's report for
//     e is in and the pruner has decided, so every member gets the same answer for e.
//  c. rank 0's DONE ends the trial (its metrics and artifacts); another member's DONE (no
//     artifacts) only frees that worker. A FAIL from any member fails the trial.
//  d. coord   -> ABORT {trial, reason}      to every other member when the attempt ends because
//                                           of one member (its FAIL, its loss); each answers
//                                           with FAIL (or the DONE it had sent already) for the
//                                           trial and is idle again. A lost member makes the
//                                           trial STALE (retried as a lost worker's is).
//
// Neither side trusts the other. The coordinator takes a message that does not decode, a second
// HELLO, anything but HELLO first, a message of a type workers do not send, a REPORT, DONE,
// FAIL or INTERRUPTED for a trial the worker does not hold, a DONE whose artifacts lie outside the
// trial's artifact folder, a RENDEZVOUS from a worker that is not rank 0 of a gang (or a second
// one), or a DONE with artifacts from a member other than rank 0 as a protocol error: it
// disconnects that worker alone, and its trial is handled as a lost worker's (STALE, retried). What
// a member of an aborted attempt sends for that attempt is ignored (its DONE or FAIL frees it). A
// worker that receives a message that does not decode, a RUN whose epochs exceed the study's budget
// or whose artifact_dir is not inside the study's artifacts folder (symbolic links resolved), or a
// second WELCOME, exits with status 1 without running anything.
//
// A worker whose connection drops, or that is silent for longer than the study's heartbeat
// timeout, is lost: its trial becomes STALE and is retried elsewhere. Messages from a lost
// worker are ignored. A worker that loses its coordinator, or hears nothing from it for the
// heartbeat timeout plus a margin (before WELCOME: a fixed wait), exits with status 1.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/trainer.h"

namespace ensweep {

// 2: WELCOME without worker_id, RUN without attempt (fields no worker read).
// 3: gangs: RUN's gang, READY's gangs, RENDEZVOUS and ABORT; INTERRUPTED (a worker stopped by
//    a signal gives its trial back).
inline constexpr int kProtocolVersion = 3;
inline constexpr int kMpiTag = 7701;

// Limits the typed decoders enforce. Names, devices, kinds, checksums and paths must not contain
// control characters.
inline constexpr size_t kMaxNameBytes = 256;        // names, hosts, devices, metric names, kinds
inline constexpr size_t kMaxPathBytes = 4096;       // artifact_dir, artifact paths
inline constexpr size_t kMaxTextBytes = 64u << 10;  // FAIL error, SHUTDOWN reason: truncated
inline constexpr int64_t kMaxEpochs = 1000000;      // epochs and epoch numbers: 1..this
inline constexpr size_t kMaxMetrics = 1024;         // entries of one metrics object
inline constexpr size_t kMaxArtifacts = 1024;       // entries of one artifacts list
inline constexpr size_t kMaxBlobBytes = 4096;       // a RENDEZVOUS blob: printable
inline constexpr int64_t kMaxGangSize = 64;         // gang members (slots_per_trial)

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
inline constexpr const char* kInterrupted = "INTERRUPTED";
inline constexpr const char* kRendezvous = "RENDEZVOUS";
inline constexpr const char* kAbort = "ABORT";
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

// The JSON text of a message. Never throws for its content: strings that are not valid UTF-8
// are sent with U+FFFD in place of their bad bytes.
std::string EncodeMessage(const Message& message);
// Throws ProtocolError for text that is not a JSON object with a string "type" (of at most
// kMaxNameBytes bytes).
Message DecodeMessage(const std::string& text);

namespace msg {

// worker -> coordinator, first. `protocol` must be kProtocolVersion (checked first, so a worker of
// another version is told so rather than about a field); name: 1..kMaxNameBytes bytes, host: at
// most kMaxNameBytes (neither with control characters); pid >= 0.
struct Hello {
  int64_t protocol = kProtocolVersion;
  std::string name;
  std::string host;
  int64_t pid = 0;
};

// coordinator -> worker, the answer to HELLO. study: an object (StudySpec::ToJson; whether it
// parses as a study is the worker's to check).
struct Welcome {
  nlohmann::json study = nlohmann::json::object();
};

// worker -> coordinator: idle, ready for a trial. device: at most kMaxNameBytes; gangs: whether
// it can be a gang member (a boolean).
struct Ready {
  std::string device;
  bool gangs = false;
};

// RUN's gang: size 1..kMaxGangSize; rank 0..size-1; key 1..kMaxNameBytes bytes without control
// characters; mpi_ranks: empty, or `size` integers >= 0 (by gang rank).
struct RunGang {
  int size = 1;
  int rank = 0;
  std::string key;
  std::vector<int> mpi_ranks;
};

// coordinator -> worker: train one trial. trial >= 0; params: an object; seed: an unsigned 64-bit
// integer; epochs: 1..kMaxEpochs; artifact_dir: 1..kMaxPathBytes bytes; gang: optional (absent
// for a 1-slot trial).
struct Run {
  int64_t trial = 0;
  nlohmann::json params = nlohmann::json::object();
  uint64_t seed = 0;
  int epochs = 1;
  std::string artifact_dir;
  std::optional<RunGang> gang;
};

// worker -> coordinator after each epoch. epoch: 1..kMaxEpochs; metrics: an object of at most
// kMaxMetrics finite numbers, names 1..kMaxNameBytes bytes. Encode leaves out non-finite values
// (JSON has none).
struct Report {
  int64_t trial = 0;
  int epoch = 1;
  MetricMap metrics;
};

// coordinator -> worker: the pruner's decision on a REPORT.
struct Continue {
  int64_t trial = 0;
};
struct Stop {
  int64_t trial = 0;
};

// worker -> coordinator: the trial ended. metrics as in Report; artifacts: at most kMaxArtifacts
// objects {kind: 1..kMaxNameBytes bytes, path: 1..kMaxPathBytes bytes, size_bytes >= 0,
// checksum: at most kMaxNameBytes}; epochs: 0..kMaxEpochs.
struct Done {
  int64_t trial = 0;
  MetricMap metrics;
  std::vector<ArtifactRecord> artifacts;
  int epochs = 0;
  bool stopped_early = false;
};

// worker -> coordinator: the trial threw. error: a string, cut to kMaxTextBytes (at a UTF-8
// character boundary) when longer.
struct Fail {
  int64_t trial = 0;
  std::string error;
};

struct Heartbeat {};

// worker -> coordinator: the worker was told to stop (SIGTERM from a batch scheduler's cancel,
// preemption or time limit) and gives its trial back before it exits: the trial is queued again
// and no retry is charged. reason: a string, cut to kMaxTextBytes when longer.
struct Interrupted {
  int64_t trial = 0;
  std::string reason;
};

// coordinator -> worker: stop and exit. reason: a string, cut to kMaxTextBytes when longer.
struct Shutdown {
  std::string reason;
};

// Both ways, gang trials only: rank 0's blob for the others (worker -> coordinator), relayed to
// every other member (coordinator -> worker). blob: at most kMaxBlobBytes, no control characters.
struct Rendezvous {
  int64_t trial = 0;
  std::string blob;
};

// coordinator -> worker: the gang's attempt at `trial` is over because of another member; the
// worker stops the trial, answers FAIL and is idle. reason: cut to kMaxTextBytes.
struct Abort {
  int64_t trial = 0;
  std::string reason;
};

Message Encode(const Hello& m);
Message Encode(const Welcome& m);
Message Encode(const Ready& m);
Message Encode(const Run& m);
Message Encode(const Report& m);
Message Encode(const Continue& m);
Message Encode(const Stop& m);
Message Encode(const Done& m);
Message Encode(const Fail& m);
Message Encode(const Heartbeat& m);
Message Encode(const Shutdown& m);
Message Encode(const Interrupted& m);
Message Encode(const Rendezvous& m);
Message Encode(const Abort& m);

// Each throws ProtocolError ("<TYPE>: '<field>' ...") when the message is of another type or a
// field is missing, of the wrong JSON type or out of range.
Hello DecodeHello(const Message& m);
Welcome DecodeWelcome(const Message& m);
Ready DecodeReady(const Message& m);
Run DecodeRun(const Message& m);
Report DecodeReport(const Message& m);
Continue DecodeContinue(const Message& m);
Stop DecodeStop(const Message& m);
Done DecodeDone(const Message& m);
Fail DecodeFail(const Message& m);
Heartbeat DecodeHeartbeat(const Message& m);
Shutdown DecodeShutdown(const Message& m);
Interrupted DecodeInterrupted(const Message& m);
Rendezvous DecodeRendezvous(const Message& m);
Abort DecodeAbort(const Message& m);

// `text` cut to at most `max_bytes` bytes at a UTF-8 character boundary, with " [cut]" appended
// when cut (the result is at most max_bytes bytes long).
std::string CutText(const std::string& text, size_t max_bytes);
// `path` as an absolute, lexically normal path strictly inside `folder` (an absolute path):
// relative paths are taken relative to `folder`. Nullopt if `path` has a ".." component or lies
// elsewhere. Lexical only: symbolic links are the caller's to resolve.
std::optional<std::string> PathInside(const std::string& folder, const std::string& path);
// A message type as it may be quoted in a log line or an error (at most 40 bytes).
std::string QuotedType(const std::string& type);

}  // namespace msg
}  // namespace ensweep
