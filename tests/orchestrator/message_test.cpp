// The typed protocol messages: each Decode accepts what its Encode writes and refuses every
// field that is missing, of another JSON type or out of range, with a ProtocolError naming the
// message type and the field.
#include "orchestrator/message.h"

#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tests/orchestrator/json_kinds.h"

using namespace ensweep;
using Json = nlohmann::json;

namespace {

using test::JsonSamples;
using test::Kind;

// A decoder, re-encoded: what the typed layer made of a message.
using Roundtrip = std::function<Message(const Message&)>;

struct Example {
  Message valid;
  Roundtrip roundtrip;
};

template <typename T, typename Decode>
Example Make(const T& value, Decode decode) {
  return Example{msg::Encode(value), [decode](const Message& m) { return msg::Encode(decode(m)); }};
}

std::vector<Example> Examples() {
  ArtifactRecord artifact{"checkpoint", "/runs/artifacts/trial-00003/model.pt", 1234,
                          "fnv1a64:00ff"};
  return {
      Make(msg::Hello{kProtocolVersion, "w1", "node-7", 4242}, msg::DecodeHello),
      Make(msg::Welcome{Json{{"study", "s"}, {"budget", {{"epochs", 2}}}}}, msg::DecodeWelcome),
      Make(msg::Ready{"cuda:0 NVIDIA H100", true}, msg::DecodeReady),
      Make(msg::Run{3, Json{{"lr", 0.01}, {"backbone", "resnet18"}},
                    std::numeric_limits<uint64_t>::max(), 5, "/runs/artifacts/trial-00003",
                    std::nullopt},
           msg::DecodeRun),
      Make(msg::Report{3, 2, {{"val_loss", 0.25}, {"val_macro_f1", 0.75}}}, msg::DecodeReport),
      Make(msg::Continue{3}, msg::DecodeContinue),
      Make(msg::Stop{3}, msg::DecodeStop),
      Make(msg::Done{3, {{"val_macro_f1", 0.8}}, {artifact}, 5, true}, msg::DecodeDone),
      Make(msg::Fail{3, "unknown backbone 'x'"}, msg::DecodeFail),
      Make(msg::Heartbeat{}, msg::DecodeHeartbeat),
      Make(msg::Shutdown{"study finished"}, msg::DecodeShutdown),
      Make(msg::Interrupted{3, "stopped by signal"}, msg::DecodeInterrupted),
      Make(msg::Rendezvous{3, "tcp://10.0.0.7:29500 secret=ab12"}, msg::DecodeRendezvous),
      Make(msg::Abort{3, "gang rank 1 (worker w2) lost"}, msg::DecodeAbort),
  };
}

// Expects `m` refused with a ProtocolError whose text names the message type and `field`, both
// as built in memory and as received as text (where 0 and positive integers parse as unsigned).
void CheckRefused(const Example& example, const Message& m, const std::string& field) {
  INFO("message " << EncodeMessage(m));
  for (const bool from_text : {false, true}) {
    INFO((from_text ? "from text" : "in memory"));
    try {
      example.roundtrip(from_text ? DecodeMessage(EncodeMessage(m)) : m);
      FAIL("accepted");
    } catch (const ProtocolError& e) {
      const std::string what = e.what();
      INFO("error: " << what);
      CHECK(what.find(example.valid.type) != std::string::npos);
      CHECK(what.find(field) != std::string::npos);
    }
  }
}

Message With(const Message& m, const std::string& field, const Json& value) {
  Message changed = m;
  changed.body[field] = value;
  return changed;
}

Message WithJsonPointer(const Message& m, const std::string& pointer, const Json& value) {
  Message changed = m;
  changed.body[Json::json_pointer(pointer)] = value;
  return changed;
}

const Example& ExampleOf(const std::vector<Example>& all, const char* type) {
  for (const auto& e : all) {
    if (e.valid.type == type) return e;
  }
  throw std::logic_error("no example");
}

}  // namespace

TEST_CASE("every message type round-trips through its Encode and Decode",
          "[orchestrator][protocol]") {
  for (const Example& example : Examples()) {
    INFO(example.valid.type);
    // Through the framing layer too, as a transport sends it.
    const Message received = DecodeMessage(EncodeMessage(example.valid));
    const Message again = example.roundtrip(received);
    CHECK(again.type == example.valid.type);
    CHECK(again.body == example.valid.body);
  }
}

TEST_CASE("a message of another type is refused by each decoder", "[orchestrator][protocol]") {
  const auto examples = Examples();
  for (const Example& decoder : examples) {
    for (const Example& other : examples) {
      if (other.valid.type == decoder.valid.type) continue;
      INFO(decoder.valid.type << " given " << other.valid.type);
      CHECK_THROWS_AS(decoder.roundtrip(other.valid), ProtocolError);
    }
  }
}

TEST_CASE("every field missing or of another JSON type is refused, naming the type and field",
          "[orchestrator][protocol]") {
  int refused = 0;
  for (const Example& example : Examples()) {
    for (const auto& item : example.valid.body.items()) {
      const std::string field = item.key();
      Message missing = example.valid;
      missing.body.erase(field);
      CheckRefused(example, missing, field);
      ++refused;
      for (const auto& [kind, value] : JsonSamples()) {
        if (kind == Kind(item.value())) continue;
        INFO(example.valid.type << "." << field << " as " << kind);
        CheckRefused(example, With(example.valid, field, value), field);
        ++refused;
      }
    }
  }
  CHECK(refused == 31 * 7);  // 31 fields in all, each missing or as one of 6 other types
}

TEST_CASE("metrics must be an object of finite numbers with short names and a capped count",
          "[orchestrator][protocol]") {
  const auto examples = Examples();
  for (const char* type : {msg::kReport, msg::kDone}) {
    const Example& example = ExampleOf(examples, type);
    INFO(type);
    for (const auto& [kind, value] : JsonSamples()) {
      if (kind == "integer" || kind == "fraction") {
        CHECK_NOTHROW(example.roundtrip(With(example.valid, "metrics", Json{{"m", value}})));
        continue;
      }
      CheckRefused(example, With(example.valid, "metrics", Json{{"m", value}}), "metrics.m");
    }
    CheckRefused(example, With(example.valid, "metrics", Json{{"", 1.0}}), "metrics");
    CheckRefused(example, With(example.valid, "metrics", Json{{std::string(300, 'm'), 1.0}}),
                 "metrics");
    Json many = Json::object();
    for (size_t i = 0; i <= kMaxMetrics; ++i) many["m" + std::to_string(i)] = 1.0;
    CheckRefused(example, With(example.valid, "metrics", many), "metrics");
    many.erase("m0");
    CHECK_NOTHROW(example.roundtrip(With(example.valid, "metrics", many)));
    // An in-memory non-finite value (JSON text has none) is refused too.
    Message infinite = example.valid;
    infinite.body["metrics"]["m"] = std::numeric_limits<double>::infinity();
    CheckRefused(example, infinite, "metrics.m");
  }
}

TEST_CASE("Encode leaves out non-finite metric values", "[orchestrator][protocol]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Message m = msg::Encode(msg::Report{1, 1, {{"val_loss", nan}, {"value", 0.5}}});
  const msg::Report back = msg::DecodeReport(DecodeMessage(EncodeMessage(m)));
  CHECK(back.metrics == MetricMap{{"value", 0.5}});
}

TEST_CASE("artifacts must be objects with a string kind, path and checksum and an integer size",
          "[orchestrator][protocol]") {
  const auto examples = Examples();
  const Example& done = ExampleOf(examples, msg::kDone);
  for (const auto& [kind, value] : JsonSamples()) {
    if (kind != "object") {
      CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0", value), "artifacts[0]");
    }
  }
  const Json& artifact = done.valid.body["artifacts"][0];
  for (const auto& item : artifact.items()) {
    const std::string field = "artifacts[0]." + item.key();
    Message missing = done.valid;
    missing.body["artifacts"][0].erase(item.key());
    CheckRefused(done, missing, field);
    for (const auto& [kind, value] : JsonSamples()) {
      if (kind == Kind(item.value())) continue;
      INFO(field << " as " << kind);
      CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/" + item.key(), value), field);
    }
  }
  CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/size_bytes", -1),
               "artifacts[0].size_bytes");
  CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/kind", ""), "artifacts[0].kind");
  CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/path", ""), "artifacts[0].path");
  CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/path", std::string(5000, 'p')),
               "artifacts[0].path");
  CheckRefused(done, WithJsonPointer(done.valid, "/artifacts/0/path", "/a/b\nc"),
               "artifacts[0].path");
  Json many = Json::array();
  for (size_t i = 0; i <= kMaxArtifacts; ++i) many.push_back(artifact);
  CheckRefused(done, With(done.valid, "artifacts", many), "artifacts");
  CHECK_NOTHROW(done.roundtrip(With(done.valid, "artifacts", Json::array())));
}

TEST_CASE("numbers out of range are refused", "[orchestrator][protocol]") {
  const auto examples = Examples();
  const Json too_big = std::numeric_limits<uint64_t>::max();  // above int64
  struct Range {
    const char* type;
    const char* field;
    Json value;
  };
  const std::vector<Range> ranges = {
      {msg::kHello, "protocol", kProtocolVersion + 1},
      {msg::kHello, "protocol", -1},
      {msg::kHello, "pid", -1},
      {msg::kHello, "pid", int64_t{1} << 40},
      {msg::kRun, "trial", -1},
      {msg::kRun, "trial", too_big},
      {msg::kRun, "seed", -1},
      {msg::kRun, "epochs", 0},
      {msg::kRun, "epochs", kMaxEpochs + 1},
      {msg::kReport, "trial", -1},
      {msg::kReport, "epoch", 0},
      {msg::kReport, "epoch", kMaxEpochs + 1},
      {msg::kReport, "epoch", too_big},
      {msg::kContinue, "trial", -1},
      {msg::kStop, "trial", -1},
      {msg::kDone, "trial", -1},
      {msg::kDone, "epochs", -1},
      {msg::kDone, "epochs", kMaxEpochs + 1},
      {msg::kFail, "trial", -5},
      {msg::kInterrupted, "trial", -1},
  };
  for (const Range& range : ranges) {
    INFO(range.type << "." << range.field << " = " << range.value.dump());
    const Example& example = ExampleOf(examples, range.type);
    CheckRefused(example, With(example.valid, range.field, range.value), range.field);
  }
  // The limits themselves are accepted.
  const Example& run = ExampleOf(examples, msg::kRun);
  CHECK(msg::DecodeRun(With(run.valid, "epochs", kMaxEpochs)).epochs == kMaxEpochs);
  CHECK(msg::DecodeRun(With(run.valid, "trial", 0)).trial == 0);
  CHECK(msg::DecodeDone(With(ExampleOf(examples, msg::kDone).valid, "epochs", 0)).epochs == 0);
}

TEST_CASE("names are 1 to 256 bytes without control characters", "[orchestrator][protocol]") {
  const auto examples = Examples();
  const Example& hello = ExampleOf(examples, msg::kHello);
  CheckRefused(hello, With(hello.valid, "name", ""), "name");
  CheckRefused(hello, With(hello.valid, "name", std::string(kMaxNameBytes + 1, 'n')), "name");
  CHECK(msg::DecodeHello(With(hello.valid, "name", std::string(kMaxNameBytes, 'n'))).name.size() ==
        kMaxNameBytes);
  CheckRefused(hello, With(hello.valid, "name", "w\n1"), "name");
  CheckRefused(hello, With(hello.valid, "host", std::string(kMaxNameBytes + 1, 'h')), "host");
  CHECK(msg::DecodeHello(With(hello.valid, "host", "")).host.empty());
  const Example& ready = ExampleOf(examples, msg::kReady);
  CheckRefused(ready, With(ready.valid, "device", std::string(kMaxNameBytes + 1, 'd')), "device");
  const Example& run = ExampleOf(examples, msg::kRun);
  CheckRefused(run, With(run.valid, "artifact_dir", ""), "artifact_dir");
  CheckRefused(run, With(run.valid, "artifact_dir", std::string(kMaxPathBytes + 1, 'a')),
               "artifact_dir");
}

TEST_CASE("long error texts and reasons are cut at a character boundary, not refused",
          "[orchestrator][protocol]") {
  // 3-byte characters, so that the cut falls inside one unless it backs up.
  std::string long_text;
  while (long_text.size() < kMaxTextBytes + 100) long_text += "\xe2\x82\xac";  // the euro sign
  const msg::Fail fail = msg::DecodeFail(msg::Encode(msg::Fail{1, long_text}));
  CHECK(fail.error.size() <= kMaxTextBytes);
  CHECK(fail.error.size() > kMaxTextBytes - 16);
  CHECK(fail.error.substr(fail.error.size() - 6) == " [cut]");
  CHECK(Json::parse(Json(fail.error).dump()) == fail.error);  // still valid UTF-8
  const msg::Shutdown shutdown = msg::DecodeShutdown(msg::Encode(msg::Shutdown{long_text}));
  CHECK(shutdown.reason.size() <= kMaxTextBytes);
  CHECK(msg::DecodeFail(msg::Encode(msg::Fail{1, "short"})).error == "short");
}

TEST_CASE("a HELLO of another protocol version is refused for its version first",
          "[orchestrator][protocol]") {
  Message hello = msg::Encode(msg::Hello{kProtocolVersion + 1, "w", "h", 1});
  hello.body.erase("name");  // a future version may well have other fields
  CHECK_THROWS_WITH(msg::DecodeHello(hello), Catch::Contains("HELLO: 'protocol' is " +
                                                             std::to_string(kProtocolVersion + 1)));
}

TEST_CASE(
    "the framing layer refuses what is not an object with a short string type and never "
    "fails to encode",
    "[orchestrator][protocol]") {
  CHECK_THROWS_AS(DecodeMessage(""), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("{\"type\": 5}"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("{\"type\": \"" + std::string(300, 'T') + "\"}"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("{\"type\": \"READY\", \"device\": \"\xff\"}"), ProtocolError);
  // Bytes that are not UTF-8 (e.g. an exception's text) are replaced, not thrown over.
  const std::string text = EncodeMessage(msg::Encode(msg::Fail{1, "bad \xff byte"}));
  CHECK(msg::DecodeFail(DecodeMessage(text)).error == "bad \xef\xbf\xbd byte");
  CHECK(msg::QuotedType(std::string(1000, 'x')).size() <= 40);
}

TEST_CASE("PathInside keeps paths inside a folder and refuses the rest",
          "[orchestrator][protocol]") {
  const std::string folder = "/runs/artifacts/trial-00003";
  CHECK(msg::PathInside(folder, "model.pt") == folder + "/model.pt");
  CHECK(msg::PathInside(folder, "sub/./val.npy") == folder + "/sub/val.npy");
  CHECK(msg::PathInside(folder, folder + "/model.pt") == folder + "/model.pt");
  CHECK(msg::PathInside(folder + "/", "model.pt") == folder + "/model.pt");
  CHECK_FALSE(msg::PathInside(folder, "../trial-00004/model.pt"));
  CHECK_FALSE(msg::PathInside(folder, folder + "/../trial-00004/model.pt"));
  CHECK_FALSE(msg::PathInside(folder, "sub/../model.pt"));  // no ".." at all, even harmless
  CHECK_FALSE(msg::PathInside(folder, "/etc/passwd"));
  CHECK_FALSE(msg::PathInside(folder, "/runs/artifacts/trial-000031/model.pt"));
  CHECK_FALSE(msg::PathInside(folder, folder));
  CHECK_FALSE(msg::PathInside(folder, "."));
  CHECK_FALSE(msg::PathInside(folder, ""));
  CHECK_FALSE(msg::PathInside("relative/folder", "model.pt"));
}

namespace {

msg::Run GangRun() {
  msg::Run run{7, Json{{"slots_per_trial", 3}},  11,
               2, "/runs/artifacts/trial-00007", msg::RunGang{3, 2, "s1-t7-a0-42", {4, 5, 6}}};
  return run;
}

Message WithGang(const std::string& pointer, const Json& value) {
  Message m = msg::Encode(GangRun());
  m.body[Json::json_pointer("/gang" + pointer)] = value;
  return m;
}

void CheckRunRefused(const Message& m, const std::string& field) {
  INFO("message " << EncodeMessage(m));
  try {
    msg::DecodeRun(DecodeMessage(EncodeMessage(m)));
    FAIL("accepted");
  } catch (const ProtocolError& e) {
    CHECK_THAT(e.what(), Catch::Contains("RUN") && Catch::Contains(field));
  }
}

}  // namespace

TEST_CASE("a RUN's gang round-trips, and a RUN without one is a 1-slot trial",
          "[orchestrator][protocol][gang]") {
  const msg::Run back = msg::DecodeRun(DecodeMessage(EncodeMessage(msg::Encode(GangRun()))));
  REQUIRE(back.gang);
  CHECK(back.gang->size == 3);
  CHECK(back.gang->rank == 2);
  CHECK(back.gang->key == "s1-t7-a0-42");
  CHECK(back.gang->mpi_ranks == std::vector<int>{4, 5, 6});
  msg::Run plain = GangRun();
  plain.gang.reset();
  const Message encoded = msg::Encode(plain);
  CHECK_FALSE(encoded.body.contains("gang"));
  CHECK_FALSE(msg::DecodeRun(encoded).gang);
}

TEST_CASE("a RUN's gang with a field missing, mistyped or out of range is refused",
          "[orchestrator][protocol][gang]") {
  Message no_size = msg::Encode(GangRun());
  no_size.body["gang"].erase("size");
  CheckRunRefused(no_size, "gang.size");
  CheckRunRefused(WithGang("", "3"), "gang");
  CheckRunRefused(WithGang("/size", 0), "gang.size");
  CheckRunRefused(WithGang("/size", kMaxGangSize + 1), "gang.size");
  CheckRunRefused(WithGang("/rank", 3), "gang.rank");  // rank < size
  CheckRunRefused(WithGang("/rank", -1), "gang.rank");
  CheckRunRefused(WithGang("/key", ""), "gang.key");
  CheckRunRefused(WithGang("/key", "a\nb"), "gang.key");
  CheckRunRefused(WithGang("/key", 5), "gang.key");
  CheckRunRefused(WithGang("/mpi_ranks", Json::array({1, 2})), "gang.mpi_ranks");
  CheckRunRefused(WithGang("/mpi_ranks", Json::array({1, 2, -3})), "gang.mpi_ranks[2]");
  CheckRunRefused(WithGang("/mpi_ranks", "1,2,3"), "gang.mpi_ranks");
  CHECK_NOTHROW(msg::DecodeRun(WithGang("/mpi_ranks", Json::array())));
}

TEST_CASE("a RENDEZVOUS blob longer than 4 KiB or with control characters is refused",
          "[orchestrator][protocol][gang]") {
  const Example example = Make(msg::Rendezvous{1, "x"}, msg::DecodeRendezvous);
  CHECK_NOTHROW(example.roundtrip(With(example.valid, "blob", std::string(kMaxBlobBytes, 'b'))));
  CHECK_NOTHROW(example.roundtrip(With(example.valid, "blob", "")));
  CheckRefused(example, With(example.valid, "blob", std::string(kMaxBlobBytes + 1, 'b')), "blob");
  CheckRefused(example, With(example.valid, "blob", "line\nbreak"), "blob");
  CheckRefused(example, With(example.valid, "trial", -1), "trial");
}
