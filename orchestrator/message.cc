#include "orchestrator/message.h"

#include <cmath>
#include <filesystem>
#include <limits>

namespace ensweep {

using Json = nlohmann::json;

std::string EncodeMessage(const Message& message) {
  Json j = message.body.is_object() ? message.body : Json::object();
  j["type"] = message.type;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Message DecodeMessage(const std::string& text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw ProtocolError(std::string("malformed message: ") + e.what());
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw ProtocolError("malformed message: expected an object with a string \"type\"");
  }
  if (j["type"].get_ref<const std::string&>().size() > kMaxNameBytes) {
    throw ProtocolError("malformed message: its \"type\" is longer than " +
                        std::to_string(kMaxNameBytes) + " bytes");
  }
  Message message;
  message.type = j["type"].get<std::string>();
  j.erase("type");
  message.body = std::move(j);
  return message;
}

namespace msg {

std::string CutText(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  static const std::string kMark = " [cut]";
  if (max_bytes < kMark.size()) return std::string();
  size_t end = max_bytes - kMark.size();
  // Back up over UTF-8 continuation bytes (10xxxxxx) so that no character is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + kMark;
}

std::string QuotedType(const std::string& type) { return "'" + CutText(type, 38) + "'"; }

std::optional<std::string> PathInside(const std::string& folder, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path given(path);
  for (const auto& part : given) {
    if (part == "..") return std::nullopt;
  }
  const fs::path base = fs::path(folder).lexically_normal();
  if (!base.is_absolute()) return std::nullopt;
  const fs::path full = (given.is_absolute() ? given : base / given).lexically_normal();
  const fs::path relative = full.lexically_relative(base);
  if (relative.empty() || relative == "." || *relative.begin() == "..") return std::nullopt;
  return full.string();
}

namespace {

// The JSON type of a value, for messages ("a string", "null", ...).
std::string TypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number with a fraction";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "a binary value";
  }
}

// Reads the fields of one message body; every failure names the type and the field.
class Reader {
 public:
  Reader(const Message& m, const char* type) : type_(type), body_(m.body) {
    if (m.type != type) {
      throw ProtocolError(std::string("expected a ") + type + " message, got " +
                          QuotedType(m.type));
    }
    if (!body_.is_object()) throw ProtocolError(std::string(type) + ": the body is not an object");
  }

  [[noreturn]] void Fail(const std::string& field, const std::string& what) const {
    throw ProtocolError(type_ + ": '" + field + "' " + what);
  }

  bool Has(const std::string& field) const { return body_.contains(field); }

  const Json& Field(const std::string& field) const {
    const auto it = body_.find(field);
    if (it == body_.end()) Fail(field, "is missing");
    return *it;
  }

  int64_t Integer(const std::string& field, int64_t low, int64_t high) const {
    return IntegerValue(Field(field), field, low, high);
  }

  int64_t IntegerValue(const Json& value, const std::string& field, int64_t low,
                       int64_t high) const {
    const std::string range = " in " + std::to_string(low) + ".." + std::to_string(high);
    if (!value.is_number_integer())
      Fail(field, "must be an integer" + range + ", not " + TypeName(value));
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(high)) {
      Fail(field, "must be an integer" + range + ", not " + std::to_string(value.get<uint64_t>()));
    }
    const int64_t i = value.get<int64_t>();  // in range of int64 now (high is an int64)
    if (i < low || i > high)
      Fail(field, "must be an integer" + range + ", not " + std::to_string(i));
    return i;
  }

  uint64_t Unsigned(const std::string& field) const {
    const Json& value = Field(field);
    if (!value.is_number_integer()) {
      Fail(field, "must be an unsigned 64-bit integer, not " + TypeName(value));
    }
    if (value.is_number_unsigned()) return value.get<uint64_t>();
    const int64_t i = value.get<int64_t>();
    if (i < 0) Fail(field, "must be an unsigned 64-bit integer, not " + std::to_string(i));
    return static_cast<uint64_t>(i);
  }

  bool Boolean(const std::string& field) const {
    const Json& value = Field(field);
    if (!value.is_boolean()) Fail(field, "must be a boolean, not " + TypeName(value));
    return value.get<bool>();
  }

  // A string of min_bytes..max_bytes bytes; `plain`: no control characters.
  std::string String(const std::string& field, size_t min_bytes, size_t max_bytes,
                     bool plain) const {
    return StringValue(Field(field), field, min_bytes, max_bytes, plain);
  }

  std::string StringValue(const Json& value, const std::string& field, size_t min_bytes,
                          size_t max_bytes, bool plain) const {
    if (!value.is_string()) Fail(field, "must be a string, not " + TypeName(value));
    const std::string& text = value.get_ref<const std::string&>();
    if (text.size() < min_bytes) Fail(field, "must not be empty");
    if (text.size() > max_bytes) {
      Fail(field, "must be at most " + std::to_string(max_bytes) + " bytes long, not " +
                      std::to_string(text.size()));
    }
    if (plain) {
      for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) Fail(field, "must not contain control characters");
      }
    }
    return text;
  }

  // Any string, cut to max_bytes.
  std::string Text(const std::string& field, size_t max_bytes) const {
    const Json& value = Field(field);
    if (!value.is_string()) Fail(field, "must be a string, not " + TypeName(value));
    return CutText(value.get_ref<const std::string&>(), max_bytes);
  }

  const Json& Object(const std::string& field) const {
    const Json& value = Field(field);
    if (!value.is_object()) Fail(field, "must be an object, not " + TypeName(value));
    return value;
  }

  MetricMap Metrics(const std::string& field) const {
    const Json& value = Object(field);
    if (value.size() > kMaxMetrics) {
      Fail(field, "has " + std::to_string(value.size()) + " entries; at most " +
                      std::to_string(kMaxMetrics) + " are allowed");
    }
    MetricMap metrics;
    for (const auto& item : value.items()) {
      const std::string name = field + "." + CutText(item.key(), 64);
      if (item.key().empty() || item.key().size() > kMaxNameBytes) {
        Fail(name, "must have a name of 1.." + std::to_string(kMaxNameBytes) + " bytes");
      }
      if (!item.value().is_number()) Fail(name, "must be a number, not " + TypeName(item.value()));
      const double number = item.value().get<double>();
      if (!std::isfinite(number)) Fail(name, "must be a finite number");
      metrics[item.key()] = number;
    }
    return metrics;
  }

  std::vector<ArtifactRecord> Artifacts(const std::string& field) const {
    const Json& value = Field(field);
    if (!value.is_array()) Fail(field, "must be an array, not " + TypeName(value));
    if (value.size() > kMaxArtifacts) {
      Fail(field, "has " + std::to_string(value.size()) + " entries; at most " +
                      std::to_string(kMaxArtifacts) + " are allowed");
    }
    std::vector<ArtifactRecord> artifacts;
    for (size_t i = 0; i < value.size(); ++i) {
      const Json& entry = value[i];
      const std::string name = field + "[" + std::to_string(i) + "]";
      if (!entry.is_object()) Fail(name, "must be an object, not " + TypeName(entry));
      const auto member = [&](const char* key) -> const Json& {
        const auto it = entry.find(key);
        if (it == entry.end()) Fail(name + "." + key, "is missing");
        return *it;
      };
      ArtifactRecord record;
      record.kind = StringValue(member("kind"), name + ".kind", 1, kMaxNameBytes, true);
      record.path = StringValue(member("path"), name + ".path", 1, kMaxPathBytes, true);
      record.size_bytes = IntegerValue(member("size_bytes"), name + ".size_bytes", 0,
                                       std::numeric_limits<int64_t>::max());
      record.checksum = StringValue(member("checksum"), name + ".checksum", 0, kMaxNameBytes, true);
      artifacts.push_back(std::move(record));
    }
    return artifacts;
  }

  int64_t Trial() const { return Integer("trial", 0, std::numeric_limits<int64_t>::max()); }

 private:
  std::string type_;
  const Json& body_;
};

Json MetricsJson(const MetricMap& metrics) {
  Json j = Json::object();
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) j[name] = value;
  }
  return j;
}

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxPid = std::numeric_limits<int32_t>::max();

}  // namespace

Message Encode(const Hello& m) {
  return Message{kHello,
                 {{"protocol", m.protocol}, {"name", m.name}, {"host", m.host}, {"pid", m.pid}}};
}

Message Encode(const Welcome& m) { return Message{kWelcome, {{"study", m.study}}}; }

Message Encode(const Ready& m) {
  return Message{kReady, {{"device", m.device}, {"gangs", m.gangs}}};
}

Message Encode(const Run& m) {
  Message out{kRun,
              {{"trial", m.trial},
               {"params", m.params},
               {"seed", m.seed},
               {"epochs", m.epochs},
               {"artifact_dir", m.artifact_dir}}};
  if (m.gang) {
    out.body["gang"] = {{"size", m.gang->size},
                        {"rank", m.gang->rank},
                        {"key", m.gang->key},
                        {"mpi_ranks", m.gang->mpi_ranks}};
  }
  return out;
}

Message Encode(const Report& m) {
  return Message{kReport,
                 {{"trial", m.trial}, {"epoch", m.epoch}, {"metrics", MetricsJson(m.metrics)}}};
}

Message Encode(const Continue& m) { return Message{kContinue, {{"trial", m.trial}}}; }

Message Encode(const Stop& m) { return Message{kStop, {{"trial", m.trial}}}; }

Message Encode(const Done& m) {
  return Message{kDone,
                 {{"trial", m.trial},
                  {"metrics", MetricsJson(m.metrics)},
                  {"artifacts", Json(m.artifacts)},
                  {"epochs", m.epochs},
                  {"stopped_early", m.stopped_early}}};
}

Message Encode(const Fail& m) { return Message{kFail, {{"trial", m.trial}, {"error", m.error}}}; }

Message Encode(const Heartbeat&) { return Message{kHeartbeat, Json::object()}; }

Message Encode(const Shutdown& m) { return Message{kShutdown, {{"reason", m.reason}}}; }

Message Encode(const Interrupted& m) {
  return Message{kInterrupted, {{"trial", m.trial}, {"reason", m.reason}}};
}

Message Encode(const Rendezvous& m) {
  return Message{kRendezvous, {{"trial", m.trial}, {"blob", m.blob}}};
}

Message Encode(const Abort& m) {
  return Message{kAbort, {{"trial", m.trial}, {"reason", m.reason}}};
}

Hello DecodeHello(const Message& m) {
  const Reader r(m, kHello);
  Hello out;
  out.protocol = r.Integer("protocol", 0, kMaxInt64);
  if (out.protocol != kProtocolVersion) {
    r.Fail("protocol", "is " + std::to_string(out.protocol) + ", but this side speaks protocol " +
                           std::to_string(kProtocolVersion));
  }
  out.name = r.String("name", 1, kMaxNameBytes, true);
  out.host = r.String("host", 0, kMaxNameBytes, true);
  out.pid = r.Integer("pid", 0, kMaxPid);
  return out;
}

Welcome DecodeWelcome(const Message& m) {
  const Reader r(m, kWelcome);
  Welcome out;
  out.study = r.Object("study");
  return out;
}

Ready DecodeReady(const Message& m) {
  const Reader r(m, kReady);
  Ready out;
  out.device = r.String("device", 0, kMaxNameBytes, true);
  out.gangs = r.Boolean("gangs");
  return out;
}

namespace {

RunGang DecodeRunGang(const Reader& r) {
  const Json& value = r.Object("gang");
  const auto member = [&](const char* key) -> const Json& {
    const auto it = value.find(key);
    if (it == value.end()) r.Fail(std::string("gang.") + key, "is missing");
    return *it;
  };
  RunGang gang;
  gang.size = static_cast<int>(r.IntegerValue(member("size"), "gang.size", 1, kMaxGangSize));
  gang.rank = static_cast<int>(r.IntegerValue(member("rank"), "gang.rank", 0, gang.size - 1));
  gang.key = r.StringValue(member("key"), "gang.key", 1, kMaxNameBytes, true);
  const Json& ranks = member("mpi_ranks");
  if (!ranks.is_array()) r.Fail("gang.mpi_ranks", "must be an array, not " + TypeName(ranks));
  if (!ranks.empty() && ranks.size() != static_cast<size_t>(gang.size)) {
    r.Fail("gang.mpi_ranks", "must be empty or hold one rank per member (" +
                                 std::to_string(gang.size) + "), not " +
                                 std::to_string(ranks.size()));
  }
  for (size_t i = 0; i < ranks.size(); ++i) {
    gang.mpi_ranks.push_back(static_cast<int>(
        r.IntegerValue(ranks[i], "gang.mpi_ranks[" + std::to_string(i) + "]", 0, kMaxPid)));
  }
  return gang;
}

}  // namespace

Run DecodeRun(const Message& m) {
  const Reader r(m, kRun);
  Run out;
  out.trial = r.Trial();
  out.params = r.Object("params");
  out.seed = r.Unsigned("seed");
  out.epochs = static_cast<int>(r.Integer("epochs", 1, kMaxEpochs));
  out.artifact_dir = r.String("artifact_dir", 1, kMaxPathBytes, true);
  if (r.Has("gang")) out.gang = DecodeRunGang(r);
  return out;
}

Report DecodeReport(const Message& m) {
  const Reader r(m, kReport);
  Report out;
  out.trial = r.Trial();
  out.epoch = static_cast<int>(r.Integer("epoch", 1, kMaxEpochs));
  out.metrics = r.Metrics("metrics");
  return out;
}

Continue DecodeContinue(const Message& m) {
  const Reader r(m, kContinue);
  return Continue{r.Trial()};
}

Stop DecodeStop(const Message& m) {
  const Reader r(m, kStop);
  return Stop{r.Trial()};
}

Done DecodeDone(const Message& m) {
  const Reader r(m, kDone);
  Done out;
  out.trial = r.Trial();
  out.metrics = r.Metrics("metrics");
  out.artifacts = r.Artifacts("artifacts");
  out.epochs = static_cast<int>(r.Integer("epochs", 0, kMaxEpochs));
  out.stopped_early = r.Boolean("stopped_early");
  return out;
}

Fail DecodeFail(const Message& m) {
  const Reader r(m, kFail);
  Fail out;
  out.trial = r.Trial();
  out.error = r.Text("error", kMaxTextBytes);
  return out;
}

Interrupted DecodeInterrupted(const Message& m) {
  const Reader r(m, kInterrupted);
  Interrupted out;
  out.trial = r.Trial();
  out.reason = r.Text("reason", kMaxTextBytes);
  return out;
}

Heartbeat DecodeHeartbeat(const Message& m) {
  const Reader r(m, kHeartbeat);
  return Heartbeat{};
}

Shutdown DecodeShutdown(const Message& m) {
  const Reader r(m, kShutdown);
  return Shutdown{r.Text("reason", kMaxTextBytes)};
}

Rendezvous DecodeRendezvous(const Message& m) {
  const Reader r(m, kRendezvous);
  Rendezvous out;
  out.trial = r.Trial();
  out.blob = r.String("blob", 0, kMaxBlobBytes, true);
  return out;
}

Abort DecodeAbort(const Message& m) {
  const Reader r(m, kAbort);
  Abort out;
  out.trial = r.Trial();
  out.reason = r.Text("reason", kMaxTextBytes);
  return out;
}

}  // namespace msg
}  // namespace ensweep
