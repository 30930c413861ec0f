#include <catch2/catch.hpp>

#include "core/trainer.h"

using namespace ensweep;
using Json = nlohmann::json;

TEST_CASE("an artifact record converts to JSON and back unchanged", "[artifact]") {
  const ArtifactRecord record{"val_probs", "/runs/a,b/val_probs.npy", 1234, "fnv1a64:00ff"};
  const Json j = record;
  CHECK(j == Json{{"kind", "val_probs"},
                  {"path", "/runs/a,b/val_probs.npy"},
                  {"size_bytes", 1234},
                  {"checksum", "fnv1a64:00ff"}});
  const auto back = j.get<ArtifactRecord>();
  CHECK(back.kind == record.kind);
  CHECK(back.path == record.path);
  CHECK(back.size_bytes == record.size_bytes);
  CHECK(back.checksum == record.checksum);
  CHECK(Json(std::vector<ArtifactRecord>{record, record}).size() == 2);
}

TEST_CASE("an artifact without a checksum is refused when read from JSON", "[artifact]") {
  const Json j = {{"kind", "checkpoint"}, {"path", "/x"}, {"size_bytes", 1}};
  CHECK_THROWS_AS(j.get<ArtifactRecord>(), Json::exception);
  CHECK_THROWS_AS((Json{{"kind", 1}, {"path", "/x"}, {"size_bytes", 1}, {"checksum", ""}}
                       .get<ArtifactRecord>()),
                  Json::exception);
}
