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

// Reads a YAML (or JSON) file into a JSON document, resolving untyped scalars as YAML 1.2's core
// schema does, and records every key path's line in `lines`. Throws UserError with the file and
// line when it is not valid YAML.
Json ReadYamlDocument(const std::string& path, LineMap& lines);

// Walks the document with the current key path, turning every violation into one UserError.
class Checker {
 public:
  // `lines` may be null (a document that did not come from a file).
  Checker(std::string origin, const LineMap* lines) : origin_(std::move(origin)), lines_(lines) {}

  // Throws "origin:line: 'path': message", the line being the key's or its nearest parent's.
  [[noreturn]] void Fail(const std::string& path, const std::string& message) const;
  // Rejects keys not in `allowed`.
  void OnlyKeys(const Json& object, const std::string& path,
                const std::vector<std::string>& allowed) const;
  const Json& Object(const Json& parent, const std::string& key, const std::string& path) const;
  std::string String(const Json& value, const std::string& path) const;  // non-empty
  std::string Enum(const Json& value, const std::string& path,
                   const std::vector<std::string>& options) const;
  int64_t Integer(const Json& value, const std::string& path, int64_t min_value) const;
  double Number(const Json& value, const std::string& path) const;  // finite
  bool Bool(const Json& value, const std::string& path) const;

 private:
  std::string origin_;
  const LineMap* lines_;
};

}  // namespace ensweep
