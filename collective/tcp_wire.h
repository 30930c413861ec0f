// The TCP backend's wire format (collective/tcp_group.cc), here so that tests can play a
// misbehaving member.
//
// Every message is a frame: a 16-byte header (magic "ESWC", kind, payload length; big-endian)
// and the payload. A joiner connects to rank 0 and sends kHello (its rank, the gang size and the
// 32-byte secret from rank 0's rendezvous blob); rank 0 answers kWelcome or kRefused (a reason)
// and closes a refused connection. The collectives then run as a star through rank 0: members
// send kSum chunks (at most kChunkBytes each) and rank 0 answers each with kSumResult; a
// broadcast travels as kBroadcast chunks (to rank 0 first when the root is another member); a
// barrier is kBarrier in and kBarrier out. A frame of the wrong kind or length breaks the group.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ensweep::collective::tcp {

constexpr uint32_t kMagic = 0x45535743;  // "ESWC"
constexpr size_t kHeaderBytes = 16;
constexpr size_t kSecretBytes = 32;
constexpr size_t kHelloBytes = 8 + kSecretBytes;
constexpr size_t kChunkBytes = size_t{4} << 20;  // a multiple of every element size
constexpr size_t kMaxReasonBytes = 1024;

enum Kind : uint32_t {
  kHello = 1,
  kWelcome = 2,
  kRefused = 3,
  kSum = 4,
  kSumResult = 5,
  kBroadcast = 6,
  kBarrier = 7,
};

struct FrameHeader {
  uint32_t kind = 0;
  uint64_t length = 0;
};

std::array<uint8_t, kHeaderBytes> EncodeHeader(uint32_t kind, uint64_t length);
// Throws std::runtime_error when the magic is wrong.
FrameHeader DecodeHeader(const uint8_t* bytes);

std::vector<uint8_t> EncodeHello(uint32_t rank, uint32_t size, const std::string& secret);

}  // namespace ensweep::collective::tcp
