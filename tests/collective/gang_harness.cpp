#include "tests/collective/gang_harness.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collective/tcp_wire.h"

namespace ensweep::collective::testing {

RawMember::RawMember(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list) != 0)
    throw std::runtime_error("raw member: cannot resolve " + host);
  fd_ = socket(list->ai_family, list->ai_socktype, list->ai_protocol);
  const int rc = fd_ < 0 ? -1 : connect(fd_, list->ai_addr, list->ai_addrlen);
  freeaddrinfo(list);
  if (rc != 0) throw std::runtime_error("raw member: cannot connect");
}

RawMember::~RawMember() { Close(); }

void RawMember::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void RawMember::Send(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = send(fd_, p, bytes, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("raw member: send failed");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void RawMember::SendFrame(uint32_t kind, uint64_t length, const std::vector<uint8_t>& payload) {
  const auto header = tcp::EncodeHeader(kind, length);
  Send(header.data(), header.size());
  if (!payload.empty()) Send(payload.data(), payload.size());
}

uint32_t RawMember::ReadFrameKind() {
  uint8_t raw[tcp::kHeaderBytes];
  size_t got = 0;
  while (got < sizeof raw) {
    const ssize_t n = recv(fd_, raw + got, sizeof raw - got, 0);
    if (n <= 0) throw std::runtime_error("raw member: connection closed");
    got += static_cast<size_t>(n);
  }
  return tcp::DecodeHeader(raw).kind;
}

}  // namespace ensweep::collective::testing
