#include "orchestrator/tcp_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "orchestrator/auth.h"

using namespace ensweep;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Fixed secrets: the tests need no randomness of their own.
const std::string kSecret(kSecretBytes, 'k');
const std::string kOtherSecret(kSecretBytes, 'o');

// The handshake's labels, as tcp_transport.h documents them.
const std::string kWorkerLabel = "ensweep worker auth v1";
const std::string kCoordinatorLabel = "ensweep coordinator auth v1";

TcpTransportOptions Options() {
  TcpTransportOptions options;
  options.secret = kSecret;
  return options;
}

TcpChannelOptions ChannelOptions() {
  TcpChannelOptions options;
  options.connect_timeout = 2s;
  options.handshake_timeout = 3s;
  return options;
}

TransportEvent WaitEvent(CoordinatorTransport& t) {
  for (int i = 0; i < 100; ++i) {
    if (auto e = t.Poll(50ms)) return *e;
  }
  FAIL("no event within 5 s");
  return {};
}

// ConnectTcp on another thread while this one runs the coordinator's end (whose handshake makes
// progress only inside Poll). Events that arrive meanwhile go to `events`.
std::unique_ptr<WorkerChannel> Connect(TcpCoordinatorTransport& t, const std::string& secret,
                                       std::vector<TransportEvent>& events,
                                       const TcpChannelOptions& options = ChannelOptions()) {
  auto pending = std::async(std::launch::async, [&t, secret, options] {
    return ConnectTcp(t.Endpoint(), secret, options);
  });
  while (pending.wait_for(0ms) != std::future_status::ready) {
    if (auto e = t.Poll(5ms)) events.push_back(*e);
  }
  return pending.get();
}

std::unique_ptr<WorkerChannel> Connect(TcpCoordinatorTransport& t) {
  std::vector<TransportEvent> events;
  auto channel = Connect(t, kSecret, events);
  CHECK(events.empty());
  return channel;
}

// The complete frames at the start of `bytes`, as JSON.
std::vector<nlohmann::json> Frames(const std::string& bytes) {
  std::vector<nlohmann::json> frames;
  size_t at = 0;
  while (bytes.size() - at >= 4) {
    const auto* h = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const size_t n = (size_t{h[0]} << 24) | (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
    if (bytes.size() - at - 4 < n) break;
    frames.push_back(nlohmann::json::parse(bytes.substr(at + 4, n)));
    at += 4 + n;
  }
  return frames;
}

int Port(const std::string& endpoint) { return std::stoi(SplitEndpoint(endpoint).second); }

// A plain TCP client of the coordinator's end, speaking raw bytes.
class RawClient {
 public:
  explicit RawClient(const std::string& endpoint) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(Port(endpoint)));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void Send(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }

  // Runs the coordinator's end for `wait` (or until the connection closes), collecting its events
  // in `events` and what reaches this client in received().
  void Pump(TcpCoordinatorTransport& t, std::chrono::milliseconds wait,
            std::vector<TransportEvent>& events) {
    const auto deadline = Clock::now() + wait;
    while (Clock::now() < deadline && !closed_) {
      if (auto e = t.Poll(5ms)) events.push_back(*e);
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) received_.append(buffer, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed_ = true;
    }
    while (auto e = t.Poll(0ms)) events.push_back(*e);  // Poll hands out one event per call
  }

  // Pumps until the challenge has arrived; returns its nonce.
  std::string Challenge(TcpCoordinatorTransport& t, std::vector<TransportEvent>& events) {
    for (int i = 0; i < 100 && Frames(received_).empty() && !closed_; ++i) Pump(t, 20ms, events);
    const auto frames = Frames(received_);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0]["type"] == "CHALLENGE");
    const std::string nonce = FromHex(frames[0]["nonce"].get<std::string>());
    REQUIRE(nonce.size() == kNonceBytes);
    return nonce;
  }

  // An AUTH frame answering `challenge` with `secret`; `nonce` is this client's.
  static std::string Auth(const std::string& secret, const std::string& challenge,
                          const std::string& nonce) {
    const nlohmann::json auth = {
        {"type", "AUTH"},
        {"nonce", ToHex(nonce)},
        {"mac", ToHex(HandshakeMac(secret, kWorkerLabel, challenge, nonce))}};
    return FrameOf(auth.dump());
  }

  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

// A stand-in coordinator on another thread: accepts one connection and runs `script` on it.
class FakeCoordinator {
 public:
  explicit FakeCoordinator(std::function<void(int)> script) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(listener_, 4) == 0);
    socklen_t size = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    endpoint_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    thread_ = std::thread([this, script] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd >= 0) {
        script(fd);
        ::close(fd);
      }
    });
  }
  ~FakeCoordinator() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  const std::string& endpoint() const { return endpoint_; }

  // The next frame from `fd` ("" when the connection closes first).
  static std::string ReadFrame(int fd) {
    std::string bytes;
    char c;
    while (true) {
      if (::recv(fd, &c, 1, 0) != 1) return "";
      bytes.push_back(c);
      const auto frames = Frames(bytes);
      if (!frames.empty()) return frames[0].dump();
    }
  }

 private:
  int listener_ = -1;
  std::string endpoint_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("TCP frames carry messages both ways and a closed worker is reported lost",
          "[orchestrator][tcp]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  CHECK(coordinator.Endpoint().rfind("127.0.0.1:", 0) == 0);
  auto worker = Connect(coordinator);
  worker->Send(Message{msg::kHello, {{"name", "w"}, {"payload", std::string(100000, 'x')}}});
  const TransportEvent hello = WaitEvent(coordinator);
  REQUIRE(hello.kind == TransportEvent::Kind::kMessage);
  CHECK(hello.message.type == msg::kHello);
  CHECK(hello.message.body["payload"].get<std::string>().size() == 100000);

  coordinator.Send(hello.peer, Message{msg::kRun, {{"trial", 7}}});
  const Message run = worker->Receive();
  CHECK(run.type == msg::kRun);
  CHECK(run.body["trial"] == 7);

  worker.reset();
  const TransportEvent lost = WaitEvent(coordinator);
  CHECK(lost.kind == TransportEvent::Kind::kLost);
  CHECK(lost.peer == hello.peer);
}

TEST_CASE("a worker channel gives its local address and takes a message without waiting",
          "[orchestrator][tcp][gang]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  auto worker = Connect(coordinator);
  CHECK(worker->LocalAddress() == "127.0.0.1");  // what a gang's rank 0 advertises
  worker->Send(Message{msg::kHello, {}});
  const TransportEvent hello = WaitEvent(coordinator);
  CHECK_FALSE(worker->ReceiveArrived());  // nothing sent yet: no wait, nothing
  coordinator.Send(hello.peer, msg::Encode(msg::Abort{3, "a member was lost"}));
  std::optional<Message> abort;
  for (int i = 0; i < 100 && !abort; ++i) {
    coordinator.Poll(50ms);
    abort = worker->ReceiveArrived();
  }
  REQUIRE(abort);
  CHECK(msg::DecodeAbort(*abort).reason == "a member was lost");
}

TEST_CASE("a worker channel reports the coordinator's departure", "[orchestrator][tcp]") {
  auto coordinator = std::make_unique<TcpCoordinatorTransport>("127.0.0.1", 0, Options());
  auto worker = Connect(*coordinator);
  worker->Send(Message{msg::kHello, {}});
  WaitEvent(*coordinator);
  coordinator.reset();
  CHECK_THROWS_AS(worker->Receive(), ChannelClosed);
}

TEST_CASE("connecting to nothing fails with a clear error", "[orchestrator][tcp]") {
  TcpChannelOptions options;
  options.connect_timeout = 300ms;
  CHECK_THROWS_WITH(ConnectTcp("127.0.0.1:1", kSecret, options),
                    Catch::Contains("cannot connect to coordinator at 127.0.0.1:1"));
}

TEST_CASE("an unauthenticated client receives nothing but the challenge and is never a peer",
          "[orchestrator][tcp][auth]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  std::vector<TransportEvent> events;
  RawClient client(coordinator.Endpoint());
  client.Challenge(coordinator, events);
  // The coordinator cannot reach it (the transport numbers connections from 1) ...
  for (int peer = 1; peer <= 3; ++peer) coordinator.Send(peer, Message{msg::kRun, {}});
  // ... and a protocol message instead of AUTH closes the connection unheard.
  client.Send(FrameOf(EncodeMessage(Message{msg::kHello, {{"name", "intruder"}}})));
  client.Pump(coordinator, 2s, events);
  CHECK(client.closed());
  CHECK(Frames(client.received()).size() == 1);  // the challenge, nothing more
  CHECK(events.empty());
  CHECK(coordinator.Connections() == 0);
}

TEST_CASE("an AUTH with a MAC under another secret is refused", "[orchestrator][tcp][auth]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  std::vector<TransportEvent> events;
  RawClient client(coordinator.Endpoint());
  const std::string challenge = client.Challenge(coordinator, events);
  client.Send(RawClient::Auth(kOtherSecret, challenge, std::string(kNonceBytes, 'n')));
  client.Pump(coordinator, 2s, events);
  CHECK(client.closed());
  CHECK(Frames(client.received()).size() == 1);
  CHECK(events.empty());

  // The same through the real worker channel: the worker is told its token was refused.
  CHECK_THROWS_AS(Connect(coordinator, kOtherSecret, events), TokenMismatch);
  CHECK(events.empty());
}

TEST_CASE("a client with the right secret gets AUTH_OK proving the coordinator's secret",
          "[orchestrator][tcp][auth]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  std::vector<TransportEvent> events;
  RawClient client(coordinator.Endpoint());
  const std::string challenge = client.Challenge(coordinator, events);
  const std::string nonce(kNonceBytes, 'n');
  client.Send(RawClient::Auth(kSecret, challenge, nonce));
  client.Send(FrameOf(EncodeMessage(Message{msg::kHello, {{"name", "raw"}}})));
  for (int i = 0; i < 100 && events.empty(); ++i) client.Pump(coordinator, 20ms, events);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == TransportEvent::Kind::kMessage);
  CHECK(events[0].message.type == msg::kHello);
  const auto frames = Frames(client.received());
  REQUIRE(frames.size() == 2);
  CHECK(frames[1]["type"] == "AUTH_OK");
  CHECK(FromHex(frames[1]["mac"].get<std::string>()) ==
        HandshakeMac(kSecret, kCoordinatorLabel, nonce, challenge));
}

TEST_CASE("an oversized length header closes the connection and others are still served",
          "[orchestrator][tcp][limits]") {
  TcpTransportOptions options = Options();
  options.max_frame_bytes = 1024;
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, options);
  std::vector<TransportEvent> events;
  {
    // Before authentication: 64 MiB announced, nothing read for it; closed at once.
    RawClient client(coordinator.Endpoint());
    client.Challenge(coordinator, events);
    const auto sent = Clock::now();
    client.Send(std::string("\x03\xff\xff\xff", 4));
    client.Pump(coordinator, 2s, events);
    CHECK(client.closed());
    CHECK(Clock::now() - sent < 1s);
    CHECK(events.empty());
  }
  // After authentication: over max_frame_bytes, the worker is dropped and reported lost.
  RawClient client(coordinator.Endpoint());
  const std::string challenge = client.Challenge(coordinator, events);
  client.Send(RawClient::Auth(kSecret, challenge, std::string(kNonceBytes, 'n')));
  client.Send(FrameOf(EncodeMessage(Message{msg::kHello, {}})));
  client.Send(std::string("\x00\x00\x04\x01", 4));  // 1025 bytes
  client.Pump(coordinator, 2s, events);
  CHECK(client.closed());
  REQUIRE(events.size() == 2);
  CHECK(events[0].message.type == msg::kHello);
  CHECK(events[1].kind == TransportEvent::Kind::kLost);
  CHECK_THAT(events[1].reason, Catch::Contains("a frame of 1025 bytes, over the limit of 1024"));

  // Another worker is served as before.
  auto worker = Connect(coordinator);
  worker->Send(Message{msg::kHello, {}});
  CHECK(WaitEvent(coordinator).message.type == msg::kHello);
}

TEST_CASE("a truncated frame followed by silence is closed after the authentication timeout",
          "[orchestrator][tcp][limits]") {
  TcpTransportOptions options = Options();
  options.auth_timeout = 200ms;
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, options);
  std::vector<TransportEvent> events;
  RawClient client(coordinator.Endpoint());
  const auto connected = Clock::now();
  client.Challenge(coordinator, events);
  client.Send(std::string("\x00\x00\x00\x40{\"ty", 8));  // 64 bytes announced, 4 sent
  client.Pump(coordinator, 100ms, events);
  CHECK_FALSE(client.closed());
  client.Pump(coordinator, 2s, events);
  CHECK(client.closed());
  CHECK(Clock::now() - connected >= 200ms);
  CHECK(Clock::now() - connected < 1500ms);
  CHECK(events.empty());
  CHECK(coordinator.Connections() == 0);
}

TEST_CASE("an authenticated worker silent for longer than the idle timeout is reported lost",
          "[orchestrator][tcp][limits]") {
  TcpTransportOptions options = Options();
  options.idle_timeout = 300ms;
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, options);
  auto worker = Connect(coordinator);
  worker->Send(Message{msg::kHello, {}});
  const auto hello_sent = Clock::now();
  REQUIRE(WaitEvent(coordinator).message.type == msg::kHello);
  const TransportEvent lost = WaitEvent(coordinator);
  CHECK(lost.kind == TransportEvent::Kind::kLost);
  CHECK(lost.reason == "no message for 300 ms");
  CHECK(Clock::now() - hello_sent >= 300ms);
  CHECK_THROWS_AS(worker->Receive(), ChannelClosed);
}

TEST_CASE("connections over the cap are closed at once", "[orchestrator][tcp][limits]") {
  TcpTransportOptions options = Options();
  options.max_connections = 2;
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, options);
  std::vector<TransportEvent> events;
  auto first = std::make_unique<RawClient>(coordinator.Endpoint());
  RawClient second(coordinator.Endpoint());
  first->Challenge(coordinator, events);
  second.Challenge(coordinator, events);
  RawClient third(coordinator.Endpoint());
  third.Pump(coordinator, 2s, events);
  CHECK(third.closed());
  CHECK(third.received().empty());  // not even a challenge
  CHECK(coordinator.Connections() == 2);
  // Once one leaves, a worker gets in.
  first.reset();
  for (int i = 0; i < 100 && coordinator.Connections() > 1; ++i) coordinator.Poll(20ms);
  CHECK(coordinator.Connections() == 1);
  auto worker = Connect(coordinator);
  worker->Send(Message{msg::kHello, {}});
  CHECK(WaitEvent(coordinator).message.type == msg::kHello);
  CHECK(events.empty());
}

TEST_CASE("the accept loop survives running out of file descriptors",
          "[orchestrator][tcp][limits]") {
  TcpTransportOptions options = Options();
  options.auth_timeout = 300ms;
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, options);
  rlimit original{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &original) == 0);
  // A few descriptors above those open now; the flood takes them all.
  int open_now = 0;
  for (int fd = 0; fd < 4096; ++fd) open_now += ::fcntl(fd, F_GETFD) != -1;
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(open_now + 16);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  std::vector<int> flood;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(Port(coordinator.Endpoint())));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // The coordinator does not run meanwhile: the connections wait in its listening queue.
  while (flood.size() < 200) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    flood.push_back(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) break;
  }
  const int socket_errno = errno;
  // Out of descriptors: the coordinator's accepts fail for a while.
  for (int i = 0; i < 20; ++i) coordinator.Poll(10ms);
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool exhausted = probe < 0 && errno == EMFILE;
  if (probe >= 0) ::close(probe);
  for (const int fd : flood) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &original) == 0);
  INFO("flood of " << flood.size() << " sockets; last errno " << socket_errno);
  CHECK(exhausted);
  // Descriptors are free again: the flood's connections (closed by now) are accepted and dropped
  // once the next retry comes, and a real worker, queued behind them, gets in and is heard.
  auto worker = Connect(coordinator);
  worker->Send(Message{msg::kHello, {{"name", "after the flood"}}});
  const TransportEvent hello = WaitEvent(coordinator);
  CHECK(hello.message.body["name"] == "after the flood");
  coordinator.Send(hello.peer, Message{msg::kRun, {{"trial", 1}}});
  CHECK(worker->Receive().type == msg::kRun);
}

TEST_CASE("a worker refuses a coordinator that cannot prove the secret",
          "[orchestrator][tcp][auth]") {
  std::promise<std::string> after_ok;
  {
    FakeCoordinator fake([&after_ok](int fd) {
      const nlohmann::json challenge = {{"type", "CHALLENGE"},
                                        {"nonce", ToHex(std::string(kNonceBytes, 'c'))}};
      const std::string frame = FrameOf(challenge.dump());
      ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
      const auto auth = nlohmann::json::parse(FakeCoordinator::ReadFrame(fd));
      // Agrees to anything, but can only guess at the proof.
      const nlohmann::json ok = {
          {"type", "AUTH_OK"},
          {"mac", ToHex(HandshakeMac(kOtherSecret, kCoordinatorLabel,
                                     FromHex(auth["nonce"].get<std::string>()),
                                     std::string(kNonceBytes, 'c')))}};
      const std::string answer = FrameOf(ok.dump());
      ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      after_ok.set_value(FakeCoordinator::ReadFrame(fd));  // what the worker says next
    });
    CHECK_THROWS_WITH(ConnectTcp(fake.endpoint(), kSecret, ChannelOptions()),
                      Catch::Contains("could not prove"));
  }
  CHECK(after_ok.get_future().get().empty());  // no HELLO: the connection just closed
}

TEST_CASE("a worker gives up on a coordinator that sends no challenge",
          "[orchestrator][tcp][auth]") {
  FakeCoordinator silent([](int fd) { FakeCoordinator::ReadFrame(fd); });
  TcpChannelOptions options = ChannelOptions();
  options.handshake_timeout = 200ms;
  const auto started = Clock::now();
  CHECK_THROWS_WITH(ConnectTcp(silent.endpoint(), kSecret, options),
                    Catch::Contains("sent no challenge within 200 ms"));
  CHECK(Clock::now() - started < 2s);
}

TEST_CASE("a worker's receive timeout takes a silent coordinator as gone", "[orchestrator][tcp]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  auto worker = Connect(coordinator);
  worker->SetReceiveTimeout(200ms);
  const auto started = Clock::now();
  CHECK_THROWS_WITH(worker->Receive(), Catch::Equals("no message from the coordinator for 200 ms"));
  CHECK(Clock::now() - started >= 200ms);
  CHECK(Clock::now() - started < 2s);
}

TEST_CASE("a worker refuses a frame over its limit from the coordinator", "[orchestrator][tcp]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0, Options());
  std::vector<TransportEvent> events;
  TcpChannelOptions options = ChannelOptions();
  options.max_frame_bytes = 1024;
  auto worker = Connect(coordinator, kSecret, events, options);
  worker->Send(Message{msg::kHello, {}});
  const TransportEvent hello = WaitEvent(coordinator);
  coordinator.Send(hello.peer, Message{msg::kWelcome, {{"study", std::string(2000, 's')}}});
  coordinator.Poll(0ms);
  CHECK_THROWS_AS(worker->Receive(), ProtocolError);
}

TEST_CASE("messages encode as JSON with a type and reject malformed text",
          "[orchestrator][protocol]") {
  const Message m{msg::kReport, {{"trial", 3}, {"epoch", 1}}};
  const Message back = DecodeMessage(EncodeMessage(m));
  CHECK(back.type == msg::kReport);
  CHECK(back.body == m.body);
  CHECK_THROWS_AS(DecodeMessage("[1,2]"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("{\"no_type\": 1}"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("not json"), ProtocolError);
}
