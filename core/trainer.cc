#include "core/trainer.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace ensweep {

void to_json(nlohmann::json& j, const ArtifactRecord& a) {
  j = {{"kind", a.kind}, {"path", a.path}, {"size_bytes", a.size_bytes}, {"checksum", a.checksum}};
}

void from_json(const nlohmann::json& j, ArtifactRecord& a) {
  j.at("kind").get_to(a.kind);
  j.at("path").get_to(a.path);
  j.at("size_bytes").get_to(a.size_bytes);
  j.at("checksum").get_to(a.checksum);
}

std::string TrialContext::Rendezvous(const std::string& /*blob*/) {
  throw std::runtime_error("this worker cannot run multi-slot (gang) trials");
}

ArtifactRecord DescribeArtifact(const std::string& kind, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read artifact " + path);
  uint64_t hash = 0xcbf29ce484222325ull;
  int64_t size = 0;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof(buffer));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      hash ^= static_cast<unsigned char>(buffer[i]);
      hash *= 0x100000001b3ull;
    }
    size += n;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return ArtifactRecord{kind, path, size, std::string("fnv1a64:") + hex};
}

}  // namespace ensweep
