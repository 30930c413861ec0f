// The study file as a JSON document, and the checker that turns what is wrong in it into one
// UserError naming the file, the line and the key path. Used by core/study.cc and
// core/study_space.cc only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/study.h"

namespace ensweep {

// Key path ("budget.trials", "space.lr.when.head", "enqueue[0].lr") -> line in the study file.
using LineMap = std::map<std::string, int>;

// `parent.key`, or `key` at the top level.
std::string JoinPath(const std::string& parent, const std::string& key);

// A value as it would be quoted in an error message: compact JSON, cut at 60 characters.
std::string Describe(const Json& value);

// Limits of a study document once its aliases are expanded: mappings and lists nested at most
// kMaxStudyDepth deep, at most kMaxStudyValues values (every mapping, list and scalar, each alias
// counted as a copy of what it names) and at most kMaxStudyExpandedBytes bytes of scalars and key
// paths. They keep a self-referencing alias or a "billion laughs" file from growing without end.
inline constexpr int kMaxStudyDepth = 64;
inline constexpr size_t kMaxStudyValues = 100000;
inline constexpr size_t kMaxStudyExpandedBytes = size_t{64} << 20;

// Parses YAML (or JSON) text into a JSON document, resolving untyped scalars as YAML 1.2's core
// schema does (decimal integers that fit 64 bits and finite decimal numbers; the rest is text),
// and records every key path's line in `lines` (the empty path: the document's). Throws UserError
// "origin:line: ..." when it is not valid YAML, not UTF-8 (core/study_text.h), exceeds the limits
// above, has a key that is not a plain scalar, a number out of range of a double or a 64-bit
// integer, or a non-finite number (.inf, .nan).
Json ParseYamlText(const std::string& text, const std::string& origin, LineMap& lines);

// Reads the study file at `path` (at most kMaxStudyFileBytes) and parses it as ParseYamlText does.
// Throws UserError naming the file when it is missing, a folder, too large or unreadable.
Json ReadYamlDocument(const std::string& path, LineMap& lines);

// The largest integer a study file may give where any integer is allowed (a seed), and the
// largest magnitude of an `int` parameter's bounds (every integer up to it is exact in a double).
inline constexpr int64_t kMaxSeed = INT64_MAX;
inline constexpr int64_t kMaxIntParam = int64_t{1} << 53;

// Walks the document with the current key path, turning every violation into one UserError.
class Checker {
 public:
  // `lines` may be null (a document that did not come from a file); so may `warnings` (then
  // Warn does nothing).
  Checker(std::string origin, const LineMap* lines, std::vector<std::string>* warnings = nullptr)
      : origin_(std::move(origin)), lines_(lines), warnings_(warnings) {}

  // Throws "origin:line: 'path': message", the line being the key's or its nearest parent's.
  [[noreturn]] void Fail(const std::string& path, const std::string& message) const;
  // Adds "origin:line: warning: 'path': message" to the warnings.
  void Warn(const std::string& path, const std::string& message) const;
  // Rejects keys not in `allowed`.
  void OnlyKeys(const Json& object, const std::string& path,
                const std::vector<std::string>& allowed) const;
  const Json& Object(const Json& parent, const std::string& key, const std::string& path) const;
  std::string String(const Json& value, const std::string& path) const;  // non-empty
  std::string Enum(const Json& value, const std::string& path,
                   const std::vector<std::string>& options) const;
  // One of the names in E's table (core/study_options.h).
  template <typename E>
  E Option(const Json& value, const std::string& path) const {
    return *ParseOption<E>(Enum(value, path, OptionNames<E>()));
  }
  // An integer in [min_value, max_value].
  int64_t Integer(const Json& value, const std::string& path, int64_t min_value,
                  int64_t max_value) const;
  double Number(const Json& value, const std::string& path) const;  // finite
  // A non-empty path of at most 4095 bytes whose every component has at most 255 bytes.
  std::string Path(const Json& value, const std::string& path) const;
  bool Bool(const Json& value, const std::string& path) const;

 private:
  std::string Where(const std::string& path) const;  // "origin:line"

  std::string origin_;
  const LineMap* lines_;
  std::vector<std::string>* warnings_;
};

}  // namespace ensweep
