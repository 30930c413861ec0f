// Deterministic random numbers, identical on every platform and standard library.
//
// std::uniform_real_distribution and friends are implementation-defined, so a study seeded on one
// machine would propose different trials on another. Rng produces the same stream for the same
// seed everywhere. Not thread-safe; give each thread or trial its own instance.
#pragma once

#include <cstdint>
#include <string_view>

namespace ensweep {

// SplitMix64 finaliser: a bijective 64-bit mixer.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Combines a base seed with a stream index (for example a trial number) into a new seed.
inline uint64_t DeriveSeed(uint64_t base, uint64_t stream) { return Mix64(Mix64(base) ^ stream); }

// FNV-1a over a string: a stable hash for names (used to derive per-purpose seeds).
inline uint64_t StableHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// xoshiro256** seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : state_) {
      s += 0x9E3779B97F4A7C15ull;
      word = Mix64(s);
    }
  }

  uint64_t NextU64() {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 bits of precision.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }

  // Uniform integer in [0, n); n > 0. Lemire's multiply-shift, rejection-free bias is < 2^-64 * n.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextU64()) * n) >> 64);
  }

  // Standard normal via Box-Muller (one value per call; simple and deterministic).
  double Normal();

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace ensweep
