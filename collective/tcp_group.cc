// The TCP backend: a star through rank 0 over POSIX sockets (collective/tcp_wire.h has the
// frames). Rank 0 adds the members' contributions in rank order and sends the one result back,
// so every member gets the same bits. Every socket is non-blocking and every wait is a poll()
// bounded by the call's deadline; any error closes every socket of this member, so the others
// see the loss at once instead of waiting for their own timeouts.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "collective/collective.h"
#include "collective/reduce.h"
#include "collective/tcp_wire.h"

namespace ensweep::collective {
namespace tcp {

std::array<uint8_t, kHeaderBytes> EncodeHeader(uint32_t kind, uint64_t length) {
  std::array<uint8_t, kHeaderBytes> out{};
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(kMagic >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<uint8_t>(kind >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
  return out;
}

FrameHeader DecodeHeader(const uint8_t* bytes) {
  uint32_t magic = 0;
  FrameHeader h;
  for (int i = 0; i < 4; ++i) magic = (magic << 8) | bytes[i];
  for (int i = 0; i < 4; ++i) h.kind = (h.kind << 8) | bytes[4 + i];
  for (int i = 0; i < 8; ++i) h.length = (h.length << 8) | bytes[8 + i];
  if (magic != kMagic) throw std::runtime_error("a frame without the collective's magic number");
  return h;
}

std::vector<uint8_t> EncodeHello(uint32_t rank, uint32_t size, const std::string& secret) {
  std::vector<uint8_t> out;
  for (uint32_t v : {rank, size})
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (24 - 8 * i)));
  out.insert(out.end(), secret.begin(), secret.end());
  return out;
}

}  // namespace tcp

namespace {

using Clock = std::chrono::steady_clock;
using namespace tcp;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Milliseconds left before `deadline` (0 when past), for poll().
int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// Waits until `fd` is ready for `events`; throws on timeout.
void WaitFor(int fd, short events, Clock::time_point deadline, const std::string& what) {
  while (true) {
    const int left = MillisLeft(deadline);
    if (left == 0) throw std::runtime_error("timed out " + what);
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, left);
    if (n > 0) return;
    if (n < 0 && errno != EINTR) throw std::runtime_error(Errno("poll failed " + what));
  }
}

void SendAll(int fd, const void* data, size_t bytes, Clock::time_point deadline,
             const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = send(fd, p, bytes, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      WaitFor(fd, POLLOUT, deadline, what);
    } else if (n < 0 && errno != EINTR) {
      throw std::runtime_error(Errno("connection lost " + what));
    }
  }
}

void RecvAll(int fd, void* data, size_t bytes, Clock::time_point deadline,
             const std::string& what) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = recv(fd, p, bytes, 0);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
    } else if (n == 0) {
      throw std::runtime_error("connection closed " + what);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      WaitFor(fd, POLLIN, deadline, what);
    } else if (errno != EINTR) {
      throw std::runtime_error(Errno("connection lost " + what));
    }
  }
}

void SendFrame(int fd, uint32_t kind, const void* data, size_t bytes, Clock::time_point deadline,
               const std::string& what) {
  const auto header = EncodeHeader(kind, bytes);
  SendAll(fd, header.data(), header.size(), deadline, what);
  if (bytes > 0) SendAll(fd, data, bytes, deadline, what);
}

// Receives a frame of `kind` whose payload is exactly `bytes` long into `data`.
void RecvFrame(int fd, uint32_t kind, void* data, size_t bytes, Clock::time_point deadline,
               const std::string& what) {
  uint8_t raw[kHeaderBytes];
  RecvAll(fd, raw, sizeof raw, deadline, what);
  const FrameHeader h = DecodeHeader(raw);
  if (h.kind != kind)
    throw std::runtime_error("a frame of kind " + std::to_string(h.kind) + " instead of " +
                             std::to_string(kind) + " " + what +
                             " (the members called different collectives)");
  if (h.length != bytes)
    throw std::runtime_error("a frame of " + std::to_string(h.length) + " bytes instead of " +
                             std::to_string(bytes) + " " + what + " (refused)");
  if (bytes > 0) RecvAll(fd, data, bytes, deadline, what);
}

void SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw std::runtime_error(Errno("fcntl"));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Equal in time independent of where the strings differ.
bool SecretsEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return diff == 0;
}

std::string RandomSecret() {
  std::string secret(kSecretBytes, '\0');
  size_t got = 0;
  while (got < secret.size()) {
    const ssize_t n = getrandom(secret.data() + got, secret.size() - got, 0);
    if (n < 0 && errno != EINTR) throw std::runtime_error(Errno("tcp: getrandom"));
    if (n > 0) got += static_cast<size_t>(n);
  }
  return secret;
}

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& hex) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error("tcp: the rendezvous blob's secret is not lower-case hex");
  };
  if (hex.size() % 2) throw std::runtime_error("tcp: the rendezvous blob's secret is not hex");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(value(hex[i]) * 16 + value(hex[i + 1])));
  return out;
}

struct AddrInfo {
  addrinfo* list = nullptr;
  AddrInfo(const std::string& host, const std::string& port, int flags) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
    if (rc != 0) throw std::runtime_error("tcp: cannot resolve " + host + ": " + gai_strerror(rc));
  }
  ~AddrInfo() { freeaddrinfo(list); }
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    Close();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Listens on `host` at a port the system picks; returns the socket and the port.
std::pair<Fd, int> Listen(const std::string& host, int backlog) {
  AddrInfo addrs(host, "0", AI_PASSIVE);
  std::string last = "no address";
  for (addrinfo* a = addrs.list; a; a = a->ai_next) {
    Fd fd(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) continue;
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || listen(fd.get(), backlog) != 0) {
      last = Errno("bind/listen");
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    const int port = bound.ss_family == AF_INET6
                         ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    SetNonBlocking(fd.get());
    return {std::move(fd), port};
  }
  throw std::runtime_error("tcp: cannot listen on " + host + ": " + last);
}

Fd ConnectTo(const std::string& host, int port, Clock::time_point deadline) {
  AddrInfo addrs(host, std::to_string(port), 0);
  std::string last = "no address";
  for (addrinfo* a = addrs.list; a; a = a->ai_next) {
    Fd fd(socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) continue;
    SetNonBlocking(fd.get());
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = Errno("connect");
      continue;
    }
    try {
      WaitFor(fd.get(), POLLOUT, deadline, "connecting");
    } catch (const std::runtime_error& e) {
      last = e.what();
      continue;
    }
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error == 0) return fd;
    last = std::string("connect: ") + std::strerror(error);
  }
  throw std::runtime_error("tcp: cannot connect to rank 0 at " + host + ":" + std::to_string(port) +
                           ": " + last);
}

class TcpGroup : public Group {
 public:
  TcpGroup(int rank, int size, std::chrono::milliseconds timeout)
      : rank_(rank), size_(size), timeout_(timeout), peers_(static_cast<size_t>(size)) {}

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "tcp"; }
  Memory memory() const override { return Memory::kHost; }

  void AllReduceSum(void* data, size_t count, DType dtype) override {
    Guard("all-reduce", [&](Clock::time_point deadline) {
      const size_t bytes = count * DTypeSize(dtype);
      char* p = static_cast<char*>(data);
      for (size_t off = 0; off < bytes; off += kChunkBytes)
        SumChunk(p + off, std::min(kChunkBytes, bytes - off), dtype, deadline);
    });
  }

  void Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_)
      throw std::invalid_argument("tcp: broadcast root " + std::to_string(root) +
                                  " is not a member");
    Guard("broadcast", [&](Clock::time_point deadline) {
      char* p = static_cast<char*>(data);
      for (size_t off = 0; off < bytes; off += kChunkBytes)
        BroadcastChunk(p + off, std::min(kChunkBytes, bytes - off), root, deadline);
    });
  }

  void Barrier() override {
    Guard("barrier", [&](Clock::time_point deadline) {
      if (rank_ != 0) {
        SendFrame(Peer(0), kBarrier, nullptr, 0, deadline, Where(0));
        RecvFrame(Peer(0), kBarrier, nullptr, 0, deadline, Where(0));
        return;
      }
      for (int r = 1; r < size_; ++r) RecvFrame(Peer(r), kBarrier, nullptr, 0, deadline, Where(r));
      for (int r = 1; r < size_; ++r) SendFrame(Peer(r), kBarrier, nullptr, 0, deadline, Where(r));
    });
  }

  // Rank 0: accepts members until all have joined or the deadline passes. Connections that do
  // not present the secret, a valid rank and the gang's size are refused and closed.
  void AcceptMembers(int listener, const std::string& secret, Clock::time_point deadline);
  // Other ranks: joins rank 0.
  void Join(const std::string& host, int port, const std::string& secret,
            Clock::time_point deadline);

 private:
  int Peer(int r) const { return peers_[static_cast<size_t>(r)].get(); }
  std::string Where(int r) const {
    return r == 0 ? "with rank 0" : "with member " + std::to_string(r);
  }

  // Runs one collective: breaks the group (closing every socket) on any error.
  template <typename Body>
  void Guard(const char* what, Body body) {
    if (!broken_.empty()) throw std::runtime_error(broken_);
    if (size_ == 1) return;
    try {
      body(Clock::now() + timeout_);
    } catch (const std::exception& e) {
      broken_ = std::string("tcp: ") + what + " failed on member " + std::to_string(rank_) + ": " +
                e.what() + " (limit " + std::to_string(timeout_.count()) + " ms)";
      for (auto& fd : peers_) fd.Close();
      throw std::runtime_error(broken_);
    }
  }

  void SumChunk(char* data, size_t bytes, DType dtype, Clock::time_point deadline) {
    if (rank_ != 0) {
      SendFrame(Peer(0), kSum, data, bytes, deadline, Where(0));
      RecvFrame(Peer(0), kSumResult, data, bytes, deadline, Where(0));
      return;
    }
    scratch_.resize(bytes);
    for (int r = 1; r < size_; ++r) {
      RecvFrame(Peer(r), kSum, scratch_.data(), bytes, deadline, Where(r));
      AddInto(data, scratch_.data(), bytes / DTypeSize(dtype), dtype);
    }
    for (int r = 1; r < size_; ++r) SendFrame(Peer(r), kSumResult, data, bytes, deadline, Where(r));
  }

  void BroadcastChunk(char* data, size_t bytes, int root, Clock::time_point deadline) {
    if (rank_ != 0) {
      if (rank_ == root)
        SendFrame(Peer(0), kBroadcast, data, bytes, deadline, Where(0));
      else
        RecvFrame(Peer(0), kBroadcast, data, bytes, deadline, Where(0));
      return;
    }
    if (root != 0) RecvFrame(Peer(root), kBroadcast, data, bytes, deadline, Where(root));
    for (int r = 1; r < size_; ++r)
      if (r != root) SendFrame(Peer(r), kBroadcast, data, bytes, deadline, Where(r));
  }

  // Reads one connection's hello; returns the rank it may take, or throws (refusing) with why.
  int ReadHello(int fd, const std::string& secret, Clock::time_point deadline);

  const int rank_;
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::vector<Fd> peers_;  // rank 0: one per member (peers_[0] unused); others: peers_[0]
  std::vector<char> scratch_;
  std::string broken_;
};

int TcpGroup::ReadHello(int fd, const std::string& secret, Clock::time_point deadline) {
  uint8_t raw[kHeaderBytes];
  RecvAll(fd, raw, sizeof raw, deadline, "reading a hello");
  const FrameHeader h = DecodeHeader(raw);
  if (h.kind != kHello || h.length != kHelloBytes)
    throw std::runtime_error("not a hello frame of " + std::to_string(kHelloBytes) + " bytes");
  uint8_t hello[kHelloBytes];
  RecvAll(fd, hello, sizeof hello, deadline, "reading a hello");
  uint32_t rank = 0, size = 0;
  for (int i = 0; i < 4; ++i) rank = (rank << 8) | hello[i];
  for (int i = 0; i < 4; ++i) size = (size << 8) | hello[4 + i];
  if (!SecretsEqual(std::string(reinterpret_cast<char*>(hello) + 8, kSecretBytes), secret))
    throw std::runtime_error("wrong secret");
  if (size != static_cast<uint32_t>(size_))
    throw std::runtime_error("gang size " + std::to_string(size) + ", not " +
                             std::to_string(size_));
  if (rank == 0 || rank >= size || Peer(static_cast<int>(rank)) >= 0)
    throw std::runtime_error("rank " + std::to_string(rank) + " is not free");
  return static_cast<int>(rank);
}

void TcpGroup::AcceptMembers(int listener, const std::string& secret, Clock::time_point deadline) {
  int joined = 1;
  while (joined < size_) {
    WaitFor(listener, POLLIN, deadline,
            "waiting for the gang's members to join (" + std::to_string(joined) + " of " +
                std::to_string(size_) + " present)");
    Fd fd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (fd.get() < 0) continue;
    SetNonBlocking(fd.get());
    // A joiner has a little time to say hello, so that one stray connection cannot hold the
    // gang until the deadline.
    const auto hello_deadline = std::min(deadline, Clock::now() + std::chrono::seconds(10));
    try {
      const int rank = ReadHello(fd.get(), secret, hello_deadline);
      SendFrame(fd.get(), kWelcome, nullptr, 0, deadline, "welcoming a member");
      peers_[static_cast<size_t>(rank)] = std::move(fd);
      ++joined;
    } catch (const std::runtime_error& e) {
      const std::string reason = std::string(e.what()).substr(0, kMaxReasonBytes);
      try {
        SendFrame(fd.get(), kRefused, reason.data(), reason.size(), hello_deadline, "refusing");
      } catch (const std::runtime_error&) {
      }
    }
  }
}

void TcpGroup::Join(const std::string& host, int port, const std::string& secret,
                    Clock::time_point deadline) {
  Fd fd = ConnectTo(host, port, deadline);
  const auto hello =
      EncodeHello(static_cast<uint32_t>(rank_), static_cast<uint32_t>(size_), secret);
  SendFrame(fd.get(), kHello, hello.data(), hello.size(), deadline, "joining rank 0");
  uint8_t raw[kHeaderBytes];
  RecvAll(fd.get(), raw, sizeof raw, deadline, "waiting for rank 0's welcome");
  const FrameHeader h = DecodeHeader(raw);
  if (h.kind == kRefused && h.length <= kMaxReasonBytes) {
    std::string reason(h.length, '\0');
    RecvAll(fd.get(), reason.data(), reason.size(), deadline, "reading rank 0's refusal");
    throw std::runtime_error("rank 0 refused member " + std::to_string(rank_) + ": " + reason);
  }
  if (h.kind != kWelcome || h.length != 0)
    throw std::runtime_error("rank 0 answered the hello with a frame of kind " +
                             std::to_string(h.kind));
  peers_[0] = std::move(fd);
}

}  // namespace

// Every error while forming names the gang and the member.
std::unique_ptr<Group> ConnectTcp(const GangInfo& gang, const RendezvousFn& rendezvous,
                                  const Options& options) {
  if (gang.size < 1 || gang.rank < 0 || gang.rank >= gang.size)
    throw std::invalid_argument("tcp: rank " + std::to_string(gang.rank) + " of a gang of " +
                                std::to_string(gang.size));
  auto group = std::make_unique<TcpGroup>(gang.rank, gang.size, options.timeout);
  if (gang.size == 1) return group;
  const auto deadline = Clock::now() + options.FormTimeout();
  try {
    if (gang.rank == 0) {
      const std::string host = gang.advertise_host.empty() ? "127.0.0.1" : gang.advertise_host;
      auto [listener, port] = Listen(host, gang.size);
      const std::string secret = RandomSecret();
      const nlohmann::json blob = {{"backend", "tcp"},  {"host", host},          {"port", port},
                                   {"size", gang.size}, {"secret", Hex(secret)}, {"key", gang.key}};
      rendezvous(blob.dump());
      group->AcceptMembers(listener.get(), secret, deadline);
      return group;
    }
    const std::string text = rendezvous("");
    nlohmann::json blob;
    try {
      blob = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error("rank 0's rendezvous blob is not JSON");
    }
    if (blob.value("backend", "") != "tcp")
      throw std::runtime_error("rank 0 formed a " + blob.value("backend", std::string("?")) +
                               " communicator, this member a tcp one (the members disagree "
                               "about the device or the build)");
    if (blob.value("size", 0) != gang.size)
      throw std::runtime_error("rank 0's gang has " + std::to_string(blob.value("size", 0)) +
                               " members, this member's " + std::to_string(gang.size));
    if (blob.value("key", gang.key) != gang.key)
      throw std::runtime_error("rank 0's blob is for gang " + blob.value("key", std::string()) +
                               " (another attempt)");
    group->Join(blob.at("host").get<std::string>(), blob.at("port").get<int>(),
                Unhex(blob.at("secret").get<std::string>()), deadline);
    return group;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.rfind("tcp:", 0) != 0) what = "tcp: " + what;
    throw std::runtime_error(what + " (gang " + gang.key + ", member " + std::to_string(gang.rank) +
                             " of " + std::to_string(gang.size) + ")");
  }
}

}  // namespace ensweep::collective
