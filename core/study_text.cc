#include "core/study_text.h"

#include <cstdio>

#include "core/error.h"

namespace ensweep {
namespace {

[[noreturn]] void FailAt(const std::string& origin, size_t line, const std::string& message) {
  throw UserError(origin + ":" + std::to_string(line) + ": " + message);
}

std::string Hex(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(byte));
  return text;
}

// Bytes of the UTF-8 sequence at `i`, or 0 if it is not a valid one.
size_t Utf8Length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;   // overlong
    if (b0 == 0xED) high = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;   // overlong
    if (b0 == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

size_t ValidUtf8Prefix(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t length = Utf8Length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return i;
}

void CheckStudyText(const std::string& text, const std::string& origin) {
  if (text.size() > kMaxStudyFileBytes) {
    throw UserError(origin + ": " + std::to_string(text.size()) +
                    " bytes; a study file may have at most " + std::to_string(kMaxStudyFileBytes) +
                    " bytes");
  }
  // Encoding: valid UTF-8 and no control characters (YAML allows neither).
  size_t line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t length = Utf8Length(text, i);
    if (length == 0) {
      FailAt(origin, line,
             "column " + std::to_string(column) + ": not valid UTF-8 (byte " + Hex(c) +
                 "); save the study file as UTF-8");
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      FailAt(origin, line,
             "column " + std::to_string(column) + ": a control character (" + Hex(c) +
                 ") is not allowed in a study file");
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += length;
  }
}

}  // namespace ensweep
