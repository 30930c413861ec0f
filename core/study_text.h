// The study file as text, checked before the YAML parser sees it: its size and its encoding.
// Used by core/study_document.cc only.
#pragma once

#include <cstddef>
#include <string>

namespace ensweep {

// The largest study file read, in bytes.
inline constexpr size_t kMaxStudyFileBytes = size_t{16} << 20;

// Throws UserError "origin:line: ..." when `text` is longer than kMaxStudyFileBytes, is not valid
// UTF-8 or holds a control character other than tab, line feed or carriage return (YAML allows
// neither).
void CheckStudyText(const std::string& text, const std::string& origin);

// The length of the valid UTF-8 prefix of `text` (text.size() when all of it is valid): no
// overlong forms, no surrogates, nothing above U+10FFFF.
size_t ValidUtf8Prefix(const std::string& text);

}  // namespace ensweep
