#include "orchestrator/message.h"

namespace ensweep {

std::string EncodeMessage(const Message& message) {
  nlohmann::json j = message.body.is_object() ? message.body : nlohmann::json::object();
  j["type"] = message.type;
  return j.dump();
}

Message DecodeMessage(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(std::string("malformed message: ") + e.what());
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw ProtocolError("malformed message: expected an object with a string \"type\"");
  }
  Message message;
  message.type = j["type"].get<std::string>();
  j.erase("type");
  message.body = std::move(j);
  return message;
}

}  // namespace ensweep
