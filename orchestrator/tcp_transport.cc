#include "orchestrator/tcp_transport.h"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "core/log.h"
#include "orchestrator/auth.h"

namespace ensweep {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kChallenge = "CHALLENGE";
constexpr const char* kAuth = "AUTH";
constexpr const char* kAuthOk = "AUTH_OK";
constexpr const char* kWorkerLabel = "ensweep worker auth v1";
constexpr const char* kCoordinatorLabel = "ensweep coordinator auth v1";

std::string Frame(const Message& message) { return FrameOf(EncodeMessage(message)); }

uint32_t FrameLength(const unsigned char* header) {
  return (static_cast<uint32_t>(header[0]) << 24) | (static_cast<uint32_t>(header[1]) << 16) |
         (static_cast<uint32_t>(header[2]) << 8) | static_cast<uint32_t>(header[3]);
}

// A handshake frame's JSON object if it has type `type`, else null.
nlohmann::json HandshakeBody(const std::string& text, const char* type) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return nullptr;
  const auto it = j.find("type");
  if (it == j.end() || !it->is_string() || it->get<std::string>() != type) return nullptr;
  return j;
}

// The bytes of hex field `key` of `j` when it holds exactly `size` bytes, else empty.
std::string HexField(const nlohmann::json& j, const char* key, size_t size) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  std::string bytes = FromHex(it->get<std::string>());
  return bytes.size() == size ? bytes : "";
}

// "10 s" or "200 ms".
std::string Duration(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                               : std::to_string(d.count()) + " ms";
}

}  // namespace

std::string FrameOf(const std::string& body) {
  const auto n = static_cast<uint32_t>(body.size());
  std::string frame(4, '\0');
  frame[0] = static_cast<char>((n >> 24) & 0xff);
  frame[1] = static_cast<char>((n >> 16) & 0xff);
  frame[2] = static_cast<char>((n >> 8) & 0xff);
  frame[3] = static_cast<char>(n & 0xff);
  return frame + body;
}

std::pair<std::string, std::string> SplitEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) {
    throw UserError("'" + endpoint + "': expected host:port");
  }
  const std::string port = endpoint.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    throw UserError("'" + endpoint + "': the port must be a number in 0..65535");
  }
  return {endpoint.substr(0, colon), port};
}

struct TcpCoordinatorTransport::Impl {
  // One connection. Before it authenticates it is invisible to the coordinator: nothing it sends
  // is delivered, its loss is not reported, and the coordinator's Send does not reach it.
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& owner_, tcp::socket socket_, int peer_)
        : owner(owner_), socket(std::move(socket_)), timer(owner_.io), peer(peer_) {
      boost::system::error_code ec;
      const auto remote = socket.remote_endpoint(ec);
      address = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    }
    Impl& owner;
    tcp::socket socket;
    asio::steady_timer timer;  // the authentication deadline, then the idle deadline
    int peer;
    std::string address;
    std::string nonce;  // the challenge sent
    bool authenticated = false;
    bool closed = false;
    Clock::time_point last_frame = Clock::now();
    unsigned char header[4] = {0, 0, 0, 0};
    std::string body;
    std::deque<std::string> outbox;

    void Start() {
      nonce = RandomBytes(kNonceBytes);
      nlohmann::json challenge = {{"type", kChallenge}, {"nonce", ToHex(nonce)}};
      Write(FrameOf(challenge.dump()));
      Wake(Clock::now() + owner.options.auth_timeout);
      ReadHeader();
    }

    void Wake(Clock::time_point when) {
      timer.expires_at(when);
      auto self = shared_from_this();
      timer.async_wait([self](const boost::system::error_code& ec) {
        if (!ec && !self->closed) self->OnTimer();
      });
    }

    void OnTimer() {
      if (!authenticated) {
        owner.Refused(address, "no AUTH within " + Duration(owner.options.auth_timeout));
        return Close("authentication timed out", false);
      }
      const auto idle = owner.options.idle_timeout;
      if (idle.count() <= 0) return;
      const auto deadline = last_frame + idle;
      const auto now = Clock::now();
      if (now < deadline) return Wake(deadline);
      // Not the peer's silence but the coordinator's own: bytes already wait on the socket, or
      // the timer fires long after its deadline because this process was stopped (SIGSTOP, a
      // suspended machine) and has not yet read what arrived meanwhile. A fresh timeout.
      boost::system::error_code ec;
      const bool waiting = socket.available(ec) > 0 && !ec;
      if (waiting || now - deadline > idle / 2) {
        last_frame = now;
        return Wake(now + idle);
      }
      Close("no message for " + Duration(idle));
    }

    void ReadHeader() {
      auto self = shared_from_this();
      asio::async_read(socket, asio::buffer(header, 4),
                       [self](const boost::system::error_code& ec, size_t) {
                         if (self->closed) return;
                         if (ec) return self->Lost("connection closed: " + ec.message());
                         const uint32_t n = FrameLength(self->header);
                         const size_t limit = self->authenticated
                                                  ? self->owner.options.max_frame_bytes
                                                  : self->owner.options.handshake_max_frame_bytes;
                         if (n > limit) {
                           return self->Lost("a frame of " + std::to_string(n) +
                                             " bytes, over the limit of " + std::to_string(limit));
                         }
                         self->ReadBody(n);
                       });
    }

    void ReadBody(uint32_t n) {
      body.assign(n, '\0');
      auto self = shared_from_this();
      asio::async_read(
          socket, asio::buffer(body.data(), n),
          [self](const boost::system::error_code& ec, size_t) {
            if (self->closed) return;
            if (ec) return self->Lost("connection closed: " + ec.message());
            self->last_frame = Clock::now();
            if (!self->authenticated) {
              if (!self->CheckAuth()) return;
            } else {
              try {
                self->owner.Push(TransportEvent{TransportEvent::Kind::kMessage, self->peer,
                                                DecodeMessage(self->body), ""});
              } catch (const std::exception& e) {  // ProtocolError, or whatever decoding throws
                return self->Close(e.what());
              }
            }
            self->ReadHeader();
          });
    }

    // The worker's AUTH: true (and AUTH_OK sent) if it proves the secret; else the connection
    // is closed with nothing more said.
    bool CheckAuth() {
      const nlohmann::json auth = HandshakeBody(body, kAuth);
      const std::string worker_nonce = auth.is_null() ? "" : HexField(auth, "nonce", kNonceBytes);
      const std::string mac = auth.is_null() ? "" : HexField(auth, "mac", kMacBytes);
      if (worker_nonce.empty() || mac.empty()) {
        owner.Refused(address, "expected an AUTH frame");
        Close("", false);
        return false;
      }
      const std::string& secret = owner.options.secret;
      if (!SameMac(mac, HandshakeMac(secret, kWorkerLabel, nonce, worker_nonce))) {
        owner.Refused(address, "its AUTH does not prove the study's token");
        Close("", false);
        return false;
      }
      authenticated = true;
      body.clear();
      body.shrink_to_fit();
      nlohmann::json ok = {
          {"type", kAuthOk},
          {"mac", ToHex(HandshakeMac(secret, kCoordinatorLabel, worker_nonce, nonce))}};
      Write(FrameOf(ok.dump()));
      if (owner.options.idle_timeout.count() > 0) {
        Wake(last_frame + owner.options.idle_timeout);
      } else {
        timer.cancel();
      }
      return true;
    }

    void Write(std::string frame) {
      if (closed) return;
      outbox.push_back(std::move(frame));
      if (outbox.size() == 1) WriteNext();
    }

    void WriteNext() {
      auto self = shared_from_this();
      asio::async_write(socket, asio::buffer(outbox.front()),
                        [self](const boost::system::error_code& ec, size_t) {
                          if (self->closed) return;
                          if (ec) return self->Lost("send failed: " + ec.message());
                          self->outbox.pop_front();
                          if (!self->outbox.empty()) self->WriteNext();
                        });
    }

    // The connection failed: a loss for an authenticated one, a refusal for another.
    void Lost(const std::string& reason) {
      if (!authenticated) owner.Refused(address, reason);
      Close(reason);
    }

    // Closes the connection and forgets the session; reports the loss once, if asked to and the
    // coordinator knows the peer.
    void Close(const std::string& reason, bool report = true) {
      if (closed) return;
      closed = true;
      boost::system::error_code ignored;
      timer.cancel();
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      if (report && authenticated) {
        owner.Push(TransportEvent{TransportEvent::Kind::kLost, peer, {}, reason});
      }
      owner.sessions.erase(peer);
    }
  };

  explicit Impl(TcpTransportOptions options_) : options(std::move(options_)) {}

  // Everything runs on the coordinator's thread, inside Poll: no I/O thread, so a message costs no
  // thread hand-off (Asio writes speculatively when Send starts one, so nothing waits for Poll).
  TcpTransportOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::chrono::milliseconds accept_delay = options.accept_retry_min;
  bool accept_failing = false;  // in a burst of accept failures (logged at its start)
  bool over_capacity = false;   // in a burst of connections over the cap (logged at its start)
  std::string endpoint;
  std::map<int, std::shared_ptr<Session>> sessions;
  int next_peer = 1;
  std::deque<TransportEvent> events;
  // Refused connections: the first is logged, then at most one line a minute with the count.
  std::optional<Clock::time_point> last_refusal_log;
  int refusals_unlogged = 0;

  void Push(TransportEvent event) { events.push_back(std::move(event)); }

  void Refused(const std::string& address, const std::string& reason) {
    const auto now = Clock::now();
    if (last_refusal_log && now - *last_refusal_log < std::chrono::minutes(1)) {
      ++refusals_unlogged;
      return;
    }
    Log(LogLevel::kWarn, "dropped a connection from ", address, " that had not authenticated (",
        reason, ")",
        refusals_unlogged > 0
            ? ", and " + std::to_string(refusals_unlogged) + " more since the last such message"
            : std::string());
    last_refusal_log = now;
    refusals_unlogged = 0;
  }

  void Accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) return AcceptFailed(ec);
      if (accept_failing) Log(LogLevel::kInfo, "accepting connections again");
      accept_failing = false;
      accept_delay = options.accept_retry_min;
      boost::system::error_code ignored;
      if (static_cast<int>(sessions.size()) >= options.max_connections) {
        if (!over_capacity) {
          Log(LogLevel::kWarn, "already ", sessions.size(),
              " connections open: closing new ones until some end");
        }
        over_capacity = true;
        socket.close(ignored);
        return Accept();
      }
      over_capacity = false;
      // Not inherited by local workers started later (as for the listening socket): closing it
      // here must end the connection.
      const int fd = socket.native_handle();
      ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
      socket.set_option(tcp::no_delay(true), ignored);
      const int peer = next_peer++;
      auto session = std::make_shared<Session>(*this, std::move(socket), peer);
      sessions[peer] = session;
      session->Start();
      Accept();
    });
  }

  // A failed accept (e.g. EMFILE under a flood of connections) is retried after a pause that
  // grows with each failure, so the loop never stops and never spins.
  void AcceptFailed(const boost::system::error_code& ec) {
    if (ec == asio::error::connection_aborted) return Accept();  // the client gave up first
    if (!accept_failing) {
      Log(LogLevel::kWarn, "cannot accept connections: ", ec.message(), "; retrying");
    }
    accept_failing = true;
    accept_retry.expires_after(accept_delay);
    accept_delay = std::min(accept_delay * 2, options.accept_retry_max);
    accept_retry.async_wait([this](const boost::system::error_code& wait) {
      if (!wait && acceptor.is_open()) Accept();
    });
  }
};

TcpCoordinatorTransport::TcpCoordinatorTransport(const std::string& host, int port,
                                                 TcpTransportOptions options) {
  if (options.secret.size() != kSecretBytes) {
    throw std::invalid_argument("the TCP transport needs a secret of " +
                                std::to_string(kSecretBytes) + " bytes");
  }
  impl_ = std::make_unique<Impl>(std::move(options));
  if (port < 0 || port > 65535) {
    throw UserError("cannot listen on " + host + ":" + std::to_string(port) +
                    ": the port must be in 0..65535 (0: any free port)");
  }
  try {
    const tcp::endpoint where(asio::ip::make_address(host), static_cast<uint16_t>(port));
    impl_->acceptor.open(where.protocol());
    // Local worker processes are spawned after this; they must not inherit the listening socket
    // (it would keep the port open after the coordinator is gone).
    const int fd = impl_->acceptor.native_handle();
    ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(where);
    impl_->acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw UserError("cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  const auto bound = impl_->acceptor.local_endpoint();
  impl_->endpoint = bound.address().to_string() + ":" + std::to_string(bound.port());
  impl_->Accept();
}

TcpCoordinatorTransport::~TcpCoordinatorTransport() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->accept_retry.cancel();
  // Copy first: Close() erases from the map.
  auto sessions = impl_->sessions;
  for (auto& [peer, session] : sessions) session->Close("transport closed", false);
  impl_->work.reset();
  impl_->io.poll();  // the aborted reads, writes and waits complete and release their sessions
}

std::optional<TransportEvent> TcpCoordinatorTransport::Poll(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  impl_->io.poll();
  while (impl_->events.empty() && Clock::now() < deadline) {
    impl_->io.run_one_until(deadline);
  }
  if (impl_->events.empty()) return std::nullopt;
  TransportEvent event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

void TcpCoordinatorTransport::Send(int peer, const Message& message) {
  auto it = impl_->sessions.find(peer);
  if (it != impl_->sessions.end() && it->second->authenticated) {
    it->second->Write(Frame(message));
  }
}

void TcpCoordinatorTransport::Disconnect(int peer) {
  auto it = impl_->sessions.find(peer);
  if (it != impl_->sessions.end()) it->second->Close("disconnected by coordinator", false);
}

std::string TcpCoordinatorTransport::Endpoint() const { return impl_->endpoint; }

int TcpCoordinatorTransport::Connections() const {
  return static_cast<int>(impl_->sessions.size());
}

namespace {

class TcpWorkerChannel : public WorkerChannel {
 public:
  explicit TcpWorkerChannel(const TcpChannelOptions& options) : options_(options), socket_(io_) {}

  void Connect(const std::string& endpoint) {
    endpoint_ = endpoint;
    const auto [host, port] = SplitEndpoint(endpoint);
    const auto deadline = Clock::now() + options_.connect_timeout;
    tcp::resolver resolver(io_);
    std::string last_error;
    while (true) {
      boost::system::error_code ec;
      const auto addresses = resolver.resolve(host, port, ec);
      if (!ec) {
        asio::connect(socket_, addresses, ec);
        if (!ec) break;
      }
      last_error = ec.message();
      if (Clock::now() >= deadline) {
        throw UserError("cannot connect to coordinator at " + endpoint + ": " + last_error);
      }
      if (Stopping()) throw UserError("stopped by signal while connecting to " + endpoint);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    socket_.set_option(tcp::no_delay(true));
  }

  // The worker's side of the handshake (tcp_transport.h).
  void Authenticate(const std::string& secret) {
    const auto deadline = Clock::now() + options_.handshake_timeout;
    const std::string at = "the coordinator at " + endpoint_;
    std::string text;
    switch (ReadFrame(text, kHandshakeMaxFrameBytes, deadline)) {
      case Read::kOk:
        break;
      case Read::kTimeout:
        throw UserError(at + " sent no challenge within " + Duration(options_.handshake_timeout) +
                        " (is it an ensweep coordinator of this version?)");
      case Read::kClosed:
        throw UserError(at + " closed the connection before its challenge (" + error_ +
                        "; it may have too many connections open)");
      case Read::kStopped:
        throw UserError("stopped by signal while joining " + at);
      case Read::kTooLarge:
        throw UserError(at + " sent " + error_ + " instead of a challenge");
    }
    const nlohmann::json challenge = HandshakeBody(text, kChallenge);
    const std::string nonce = challenge.is_null() ? "" : HexField(challenge, "nonce", kNonceBytes);
    if (nonce.empty()) {
      throw UserError(at +
                      " sent no valid challenge (is it an ensweep coordinator of this "
                      "version?)");
    }
    const std::string own_nonce = RandomBytes(kNonceBytes);
    const nlohmann::json auth = {
        {"type", kAuth},
        {"nonce", ToHex(own_nonce)},
        {"mac", ToHex(HandshakeMac(secret, kWorkerLabel, nonce, own_nonce))}};
    WriteFrame(FrameOf(auth.dump()));
    switch (ReadFrame(text, kHandshakeMaxFrameBytes, deadline)) {
      case Read::kOk:
        break;
      case Read::kTimeout:
        throw UserError(at + " did not answer this worker's token within " +
                        Duration(options_.handshake_timeout));
      case Read::kClosed:
        throw TokenMismatch(at +
                            " refused this worker's token: it is not the token of the study "
                            "being run there");
      case Read::kStopped:
        throw UserError("stopped by signal while joining " + at);
      case Read::kTooLarge:
        throw UserError(at + " sent " + error_ + " instead of answering the token");
    }
    const nlohmann::json ok = HandshakeBody(text, kAuthOk);
    const std::string mac = ok.is_null() ? "" : HexField(ok, "mac", kMacBytes);
    if (!SameMac(mac, HandshakeMac(secret, kCoordinatorLabel, own_nonce, nonce))) {
      throw TokenMismatch(at +
                          " could not prove that it holds this worker's token: not working "
                          "for it (is another study being run there?)");
    }
  }

  void Send(const Message& message) override { WriteFrame(Frame(message)); }

  Message Receive() override {
    std::string body;
    const bool bounded = receive_timeout_.count() > 0;
    switch (ReadFrame(body, options_.max_frame_bytes,
                      bounded ? std::optional(Clock::now() + receive_timeout_) : std::nullopt)) {
      case Read::kOk:
        return DecodeMessage(body);
      case Read::kTimeout:
        throw ChannelClosed("no message from the coordinator for " + Duration(receive_timeout_));
      case Read::kClosed:
        throw ChannelClosed("coordinator connection closed: " + error_);
      case Read::kStopped:
        throw ChannelClosed("stopped by signal");
      case Read::kTooLarge:
        break;
    }
    throw ProtocolError("the coordinator sent " + error_);
  }

  std::optional<Message> ReceiveArrived() override {
    pollfd ready{socket_.native_handle(), POLLIN, 0};
    if (::poll(&ready, 1, 0) <= 0) return std::nullopt;
    return Receive();  // readable: a frame (or the connection's end) has arrived
  }

  std::string LocalAddress() const override {
    boost::system::error_code ec;
    const auto local = socket_.local_endpoint(ec);
    return ec ? std::string() : local.address().to_string();
  }

  void SetReceiveTimeout(std::chrono::milliseconds timeout) override { receive_timeout_ = timeout; }

 private:
  enum class Read { kOk, kTimeout, kClosed, kTooLarge, kStopped };

  bool Stopping() const { return options_.stop_requested && options_.stop_requested(); }

  void WriteFrame(const std::string& frame) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(frame), ec);
    if (ec) throw ChannelClosed("coordinator connection lost: " + ec.message());
  }

  // One frame into `body`: its header, checked against `limit` before anything is allocated,
  // then its bytes, all of it by `deadline` when there is one. Sets error_ unless kOk.
  Read ReadFrame(std::string& body, size_t limit, std::optional<Clock::time_point> deadline) {
    unsigned char header[4];
    Read read = ReadExactly(reinterpret_cast<char*>(header), 4, deadline, true);
    if (read != Read::kOk) return read;
    const uint32_t n = FrameLength(header);
    if (n > limit) {
      error_ =
          "a frame of " + std::to_string(n) + " bytes, over the limit of " + std::to_string(limit);
      return Read::kTooLarge;
    }
    body.assign(n, '\0');
    return ReadExactly(body.data(), n, deadline);
  }

  // Reads exactly n bytes; with a deadline, waits for them no later than it. With `may_stop`, a
  // wait interrupted by a signal before the first byte ends it (kStopped) on a stop request.
  Read ReadExactly(char* data, size_t n, std::optional<Clock::time_point> deadline,
                   bool may_stop = false) {
    size_t done = 0;
    while (done < n) {
      if (deadline) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
        pollfd ready{socket_.native_handle(), POLLIN, 0};
        const int polled = left.count() > 0 ? ::poll(&ready, 1, static_cast<int>(left.count())) : 0;
        if (polled < 0 && errno == EINTR) {
          if (may_stop && done == 0 && Stopping()) return Read::kStopped;
          continue;
        }
        if (polled == 0) {
          error_ = "timed out";
          return Read::kTimeout;
        }
      }
      boost::system::error_code ec;
      const size_t got = socket_.read_some(asio::buffer(data + done, n - done), ec);
      if (ec == asio::error::interrupted) continue;
      if (ec) {
        error_ = ec.message();
        return Read::kClosed;
      }
      done += got;
    }
    return Read::kOk;
  }

  TcpChannelOptions options_;
  asio::io_context io_;
  tcp::socket socket_;
  std::string endpoint_;
  std::chrono::milliseconds receive_timeout_{0};
  std::string error_;
};

}  // namespace

std::unique_ptr<WorkerChannel> ConnectTcp(const std::string& endpoint, const std::string& secret,
                                          const TcpChannelOptions& options) {
  if (secret.size() != kSecretBytes) {
    throw std::invalid_argument("a TCP worker needs a secret of " + std::to_string(kSecretBytes) +
                                " bytes");
  }
  auto channel = std::make_unique<TcpWorkerChannel>(options);
  channel->Connect(endpoint);
  channel->Authenticate(secret);
  return channel;
}

}  // namespace ensweep
