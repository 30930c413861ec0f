// Fuzzes the protocol's decoders (orchestrator/message.h) with arbitrary bytes, as a hostile peer
// could frame them: the framing decoder, then every typed Decode. ProtocolError is the only
// exception allowed out; anything else escaping, or a sanitizer report, is a bug. A message one
// decoder accepts must encode, and decode again to the same text (Encode and Decode agree).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "orchestrator/message.h"

namespace {

using namespace ensweep;

template <typename Decode>
void Check(const Message& message, Decode decode) {
  try {
    const Message encoded = msg::Encode(decode(message));
    const std::string text = EncodeMessage(encoded);
    const Message again = msg::Encode(decode(DecodeMessage(text)));
    if (EncodeMessage(again) != text) std::abort();  // Encode and Decode disagree
  } catch (const ProtocolError&) {
    // Refused: the expected outcome for most inputs.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Message message;
  try {
    message = DecodeMessage(text);
  } catch (const ProtocolError&) {
    return 0;
  }
  // Every decoder, whatever the type says: each must refuse another type cleanly.
  Check(message, msg::DecodeHello);
  Check(message, msg::DecodeWelcome);
  Check(message, msg::DecodeReady);
  Check(message, msg::DecodeRun);
  Check(message, msg::DecodeReport);
  Check(message, msg::DecodeContinue);
  Check(message, msg::DecodeStop);
  Check(message, msg::DecodeDone);
  Check(message, msg::DecodeFail);
  Check(message, msg::DecodeHeartbeat);
  Check(message, msg::DecodeShutdown);
  // And each as though the type were its own, so that the fields are reached for every input.
  for (const char* type :
       {msg::kHello, msg::kWelcome, msg::kReady, msg::kRun, msg::kReport, msg::kContinue,
        msg::kStop, msg::kDone, msg::kFail, msg::kHeartbeat, msg::kShutdown}) {
    Message retyped = message;
    retyped.type = type;
    Check(retyped, msg::DecodeHello);
    Check(retyped, msg::DecodeWelcome);
    Check(retyped, msg::DecodeReady);
    Check(retyped, msg::DecodeRun);
    Check(retyped, msg::DecodeReport);
    Check(retyped, msg::DecodeContinue);
    Check(retyped, msg::DecodeStop);
    Check(retyped, msg::DecodeDone);
    Check(retyped, msg::DecodeFail);
    Check(retyped, msg::DecodeHeartbeat);
    Check(retyped, msg::DecodeShutdown);
  }
  // Artifact paths as the coordinator checks them.
  if (message.body.is_object()) {
    for (const auto& item : message.body.items()) {
      if (item.value().is_string()) {
        msg::PathInside("/runs/artifacts/trial-00000", item.value().get<std::string>());
      }
    }
  }
  return 0;
}
