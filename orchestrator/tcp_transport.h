// TCP transport over Boost.Asio: length-prefixed JSON frames (see message.h), behind a
// challenge-response handshake that admits only holders of the study's secret (auth.h).
//
// The handshake, in ordinary frames (a 4-byte big-endian length, then a JSON object), before the
// coordinator says anything about the study. Nonces and MACs are hex; MACs are HMAC-SHA256 under
// the secret:
//
//  1. coord  -> CHALLENGE {nonce: Nc}              32 random bytes, sent on connect
//  2. worker -> AUTH      {nonce: Nw, mac: HMAC("ensweep worker auth v1" || Nc || Nw)}
//  3. coord  -> AUTH_OK   {mac: HMAC("ensweep coordinator auth v1" || Nw || Nc)}
//     ...then the protocol of message.h, starting with the worker's HELLO.
//
// The coordinator checks the worker's MAC in constant time; a wrong one closes the connection
// with nothing said beyond the challenge. The worker checks the coordinator's MAC before it sends
// HELLO, so it only works for a coordinator that holds the same secret. Both MACs are bound to
// both nonces, so neither answer can be replayed on another connection. The traffic after the
// handshake is neither encrypted nor signed: the handshake proves that both ends held the secret
// when the connection was made, not that nobody on the path listens or interferes.
//
// The coordinator's end has no thread of its own: its sockets, and their timers, make progress
// inside Poll (and a Send writes at once when the socket has room), all on the coordinator's
// thread. The coordinator sees a connection only once it has authenticated: its messages arrive
// as events, and its loss is reported (kLost) only then. A worker's end is a plain blocking
// socket used from one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/error.h"
#include "orchestrator/transport.h"

namespace ensweep {

// Frames larger than this are refused by both ends, from the length header, before anything is
// allocated for them (a study spec is a few kilobytes; `ensweep run --max-frame-mib` raises it).
inline constexpr size_t kDefaultMaxFrameBytes = 16u << 20;
// The limit before a connection has authenticated (an AUTH frame is under 200 bytes).
inline constexpr size_t kHandshakeMaxFrameBytes = 4096;

struct TcpTransportOptions {
  // The study's secret (auth.h, kSecretBytes bytes); the constructor refuses any other size.
  std::string secret;
  // Largest frame accepted from an authenticated connection. Default 16 MiB.
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Largest frame accepted before authentication. Default 4 KiB.
  size_t handshake_max_frame_bytes = kHandshakeMaxFrameBytes;
  // A connection that has not authenticated within this is closed (unreported). Default 10 s.
  std::chrono::milliseconds auth_timeout{10000};
  // An authenticated connection from which no frame arrives for longer than this is closed and
  // reported lost; zero: never. Default zero; `ensweep run` passes the study's
  // resources.heartbeat_timeout.
  std::chrono::milliseconds idle_timeout{0};
  // Open connections, authenticated or not, at most; one over it is accepted and closed at once
  // (logged once per burst). Default 256.
  int max_connections = 256;
  // When accept fails (e.g. EMFILE: out of file descriptors), the next try waits this long,
  // doubling per failure up to accept_retry_max; one log line per burst of failures.
  // Defaults 50 ms and 1 s.
  std::chrono::milliseconds accept_retry_min{50};
  std::chrono::milliseconds accept_retry_max{1000};
};

class TcpCoordinatorTransport : public CoordinatorTransport {
 public:
  // Listens on host:port; port 0 picks a free port (see Endpoint()). Throws UserError if the
  // address cannot be bound, std::invalid_argument if options.secret is not kSecretBytes long.
  TcpCoordinatorTransport(const std::string& host, int port, TcpTransportOptions options);
  ~TcpCoordinatorTransport() override;

  std::optional<TransportEvent> Poll(std::chrono::milliseconds timeout) override;
  void Send(int peer, const Message& message) override;
  void Disconnect(int peer) override;
  std::string Endpoint() const override;

  // Open connections, authenticated or not (for tests and diagnostics); updated inside Poll.
  int Connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `body` as one frame on the wire: its length as 4 big-endian bytes, then the text.
std::string FrameOf(const std::string& body);

// "host:port" split into its parts; throws UserError unless the port is a number in 0..65535.
std::pair<std::string, std::string> SplitEndpoint(const std::string& endpoint);

struct TcpChannelOptions {
  // Connecting is retried until this passes (the coordinator may still be starting). Default 30 s.
  std::chrono::milliseconds connect_timeout{30000};
  // The handshake must be over within this after connecting. Default 30 s.
  std::chrono::milliseconds handshake_timeout{30000};
  // Largest frame accepted from the coordinator. Default 16 MiB.
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Read when a signal interrupts a wait (connecting, or Receive before a frame has begun): true
  // ends it, connecting with UserError, Receive with ChannelClosed("stopped by signal"). The
  // caller's handler must be installed without SA_RESTART. Null: waits go on.
  std::function<bool()> stop_requested;
};

// The two ends hold different secrets: the coordinator closed the connection after this worker's
// AUTH, or its AUTH_OK did not prove the worker's secret.
class TokenMismatch : public UserError {
 public:
  using UserError::UserError;
};

// Connects to the coordinator at "host:port" and proves that this worker holds `secret` (auth.h);
// the channel is returned only once the coordinator has proved it too. Throws UserError when it
// cannot connect or the handshake times out, TokenMismatch when the coordinator refuses the secret
// or cannot prove it.
std::unique_ptr<WorkerChannel> ConnectTcp(const std::string& endpoint, const std::string& secret,
                                          const TcpChannelOptions& options = {});

}  // namespace ensweep
