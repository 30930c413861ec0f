#include "orchestrator/tcp_transport.h"

#include <fcntl.h>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <thread>

#include "core/error.h"

namespace ensweep {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string Frame(const Message& message) {
  const std::string body = EncodeMessage(message);
  const auto n = static_cast<uint32_t>(body.size());
  std::string frame(4, '\0');
  frame[0] = static_cast<char>((n >> 24) & 0xff);
  frame[1] = static_cast<char>((n >> 16) & 0xff);
  frame[2] = static_cast<char>((n >> 8) & 0xff);
  frame[3] = static_cast<char>(n & 0xff);
  return frame + body;
}

uint32_t FrameLength(const unsigned char* header) {
  return (static_cast<uint32_t>(header[0]) << 24) | (static_cast<uint32_t>(header[1]) << 16) |
         (static_cast<uint32_t>(header[2]) << 8) | static_cast<uint32_t>(header[3]);
}

}  // namespace

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
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& owner_, tcp::socket socket_, int peer_)
        : owner(owner_), socket(std::move(socket_)), peer(peer_) {}
    Impl& owner;
    tcp::socket socket;
    int peer;
    unsigned char header[4] = {0, 0, 0, 0};
    std::string body;
    std::deque<std::string> outbox;
    bool closed = false;

    void ReadHeader() {
      auto self = shared_from_this();
      asio::async_read(socket, asio::buffer(header, 4),
                       [self](const boost::system::error_code& ec, size_t) {
                         if (ec) return self->Close("connection closed: " + ec.message());
                         const uint32_t n = FrameLength(self->header);
                         if (n > kMaxFrameBytes) return self->Close("frame too large");
                         self->ReadBody(n);
                       });
    }

    void ReadBody(uint32_t n) {
      body.assign(n, '\0');
      auto self = shared_from_this();
      asio::async_read(
          socket, asio::buffer(body.data(), n),
          [self](const boost::system::error_code& ec, size_t) {
            if (ec) return self->Close("connection closed: " + ec.message());
            try {
              self->owner.Push(TransportEvent{TransportEvent::Kind::kMessage, self->peer,
                                              DecodeMessage(self->body), ""});
            } catch (const ProtocolError& e) {
              return self->Close(e.what());
            }
            self->ReadHeader();
          });
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
                          if (ec) return self->Close("send failed: " + ec.message());
                          self->outbox.pop_front();
                          if (!self->outbox.empty()) self->WriteNext();
                        });
    }

    // Reports the loss once and forgets the session.
    void Close(const std::string& reason, bool report = true) {
      if (closed) return;
      closed = true;
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
      if (report) owner.Push(TransportEvent{TransportEvent::Kind::kLost, peer, {}, reason});
      owner.sessions.erase(peer);
    }
  };

  // Everything runs on the coordinator's thread, inside Poll: no I/O thread, so a message costs no
  // thread hand-off (Asio writes speculatively when Send starts one, so nothing waits for Poll).
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::string endpoint;
  std::map<int, std::shared_ptr<Session>> sessions;
  int next_peer = 1;
  std::deque<TransportEvent> events;

  void Push(TransportEvent event) { events.push_back(std::move(event)); }

  void Accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;  // acceptor closed
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const int peer = next_peer++;
      auto session = std::make_shared<Session>(*this, std::move(socket), peer);
      sessions[peer] = session;
      session->ReadHeader();
      Accept();
    });
  }
};

TcpCoordinatorTransport::TcpCoordinatorTransport(const std::string& host, int port)
    : impl_(std::make_unique<Impl>()) {
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
  // Copy first: Close() erases from the map.
  auto sessions = impl_->sessions;
  for (auto& [peer, session] : sessions) session->Close("transport closed", false);
  impl_->work.reset();
  impl_->io.poll();  // the aborted reads and writes complete and release their sessions
}

std::optional<TransportEvent> TcpCoordinatorTransport::Poll(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  impl_->io.poll();
  while (impl_->events.empty() && std::chrono::steady_clock::now() < deadline) {
    impl_->io.run_one_until(deadline);
  }
  if (impl_->events.empty()) return std::nullopt;
  TransportEvent event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

void TcpCoordinatorTransport::Send(int peer, const Message& message) {
  auto it = impl_->sessions.find(peer);
  if (it != impl_->sessions.end()) it->second->Write(Frame(message));
}

void TcpCoordinatorTransport::Disconnect(int peer) {
  auto it = impl_->sessions.find(peer);
  if (it != impl_->sessions.end()) it->second->Close("disconnected by coordinator", false);
}

std::string TcpCoordinatorTransport::Endpoint() const { return impl_->endpoint; }

namespace {

class TcpWorkerChannel : public WorkerChannel {
 public:
  TcpWorkerChannel() : socket_(io_) {}

  void Connect(const std::string& endpoint, std::chrono::milliseconds timeout) {
    const auto [host, port] = SplitEndpoint(endpoint);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
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
      if (std::chrono::steady_clock::now() >= deadline) {
        throw UserError("cannot connect to coordinator at " + endpoint + ": " + last_error);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    socket_.set_option(tcp::no_delay(true));
  }

  void Send(const Message& message) override {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(Frame(message)), ec);
    if (ec) throw ChannelClosed("coordinator connection lost: " + ec.message());
  }

  Message Receive() override {
    unsigned char header[4];
    boost::system::error_code ec;
    asio::read(socket_, asio::buffer(header, 4), ec);
    if (ec) throw ChannelClosed("coordinator connection closed: " + ec.message());
    const uint32_t n = FrameLength(header);
    if (n > kMaxFrameBytes) throw ProtocolError("frame too large");
    std::string body(n, '\0');
    asio::read(socket_, asio::buffer(body.data(), n), ec);
    if (ec) throw ChannelClosed("coordinator connection closed: " + ec.message());
    return DecodeMessage(body);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

}  // namespace

std::unique_ptr<WorkerChannel> ConnectTcp(const std::string& endpoint,
                                          std::chrono::milliseconds timeout) {
  auto channel = std::make_unique<TcpWorkerChannel>();
  channel->Connect(endpoint, timeout);
  return channel;
}

}  // namespace ensweep
