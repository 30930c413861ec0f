#include "core/study_document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <typeinfo>

#include "core/error.h"
#include "core/study_text.h"

namespace ensweep {
namespace {

bool Digit(char c) { return c >= '0' && c <= '9'; }

// Digits from `i`; returns the index after them.
size_t SkipDigits(const std::string& text, size_t i) {
  while (i < text.size() && Digit(text[i])) ++i;
  return i;
}

// YAML 1.2 core schema, decimal forms: [-+]?[0-9]+
bool LooksInteger(const std::string& text) {
  size_t i = text.empty() || (text[0] != '-' && text[0] != '+') ? 0 : 1;
  const size_t digits = SkipDigits(text, i);
  return digits > i && digits == text.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool LooksFloat(const std::string& text) {
  size_t i = text.empty() || (text[0] != '-' && text[0] != '+') ? 0 : 1;
  if (i < text.size() && text[i] == '.') {
    const size_t end = SkipDigits(text, i + 1);
    if (end == i + 1) return false;
    i = end;
  } else {
    const size_t end = SkipDigits(text, i);
    if (end == i) return false;
    i = end;
    if (i < text.size() && text[i] == '.') i = SkipDigits(text, i + 1);
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const size_t end = SkipDigits(text, i);
    if (end == i) return false;
    i = end;
  }
  return i == text.size();
}

// The forms YAML 1.2's core schema reads as infinity or not-a-number.
bool LooksNonFinite(const std::string& text) {
  std::string t = text;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.erase(0, 1);
  return t == ".inf" || t == ".Inf" || t == ".INF" || t == ".nan" || t == ".NaN" || t == ".NAN";
}

// Whether a decimal number's text has a non-zero digit before its exponent.
bool NonZeroMantissa(const std::string& text) {
  for (char c : text) {
    if (c == 'e' || c == 'E') break;
    if (c >= '1' && c <= '9') return true;
  }
  return false;
}

// Walks yaml-cpp's node graph into JSON. yaml-cpp resolves an alias into the very node its anchor
// names, so the graph may share nodes (a "billion laughs" file) or hold a cycle (an alias inside
// its own anchor); the walk counts every value it produces and stops at the limits.
class Walk {
 public:
  Walk(const std::string& origin, LineMap& lines) : origin_(origin), lines_(lines) {}

  Json Convert(const YAML::Node& node, const std::string& path) {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    if (line > 0) lines_.emplace(path, line);
    if (++values_ > kMaxStudyValues) {
      Fail(line, path,
           "more than " + std::to_string(kMaxStudyValues) +
               " values (mappings, lists and scalars, each alias counted as a copy of its "
               "anchor); a study file needs far fewer");
    }
    Charge(line, path, path.size());
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        return Scalar(node, path, line);
      case YAML::NodeType::Sequence:
      case YAML::NodeType::Map:
        break;
      default:
        return nullptr;
    }
    for (const YAML::Node& open : open_) {
      if (open.is(node)) {
        Fail(line, path,
             "an alias refers to a mapping or list that contains it (a cycle); an alias may "
             "only name a value defined outside it");
      }
    }
    if (static_cast<int>(open_.size()) >= kMaxStudyDepth) {
      Fail(line, path,
           "mappings and lists nested deeper than " + std::to_string(kMaxStudyDepth) + " levels");
    }
    open_.push_back(node);
    Json result = node.IsSequence() ? Sequence(node, path) : Map(node, path, line);
    open_.pop_back();
    return result;
  }

 private:
  [[noreturn]] void Fail(int line, const std::string& path, const std::string& message) const {
    throw UserError(origin_ + ":" + std::to_string(std::max(line, 1)) + ": " +
                    (path.empty() ? "" : "'" + path + "': ") + message);
  }

  void Charge(int line, const std::string& path, size_t bytes) {
    bytes_ += bytes;
    if (bytes_ > kMaxStudyExpandedBytes) {
      Fail(line, path,
           "more than " + std::to_string(kMaxStudyExpandedBytes >> 20) +
               " MiB of text once aliases are expanded; a study file needs far less");
    }
  }

  // YAML scalars carry no type; resolve them as YAML 1.2's core schema does. Quoted scalars
  // (tag "!") always stay strings.
  Json Scalar(const YAML::Node& node, const std::string& path, int line) {
    const std::string& text = node.Scalar();
    Charge(line, path, text.size());
    if (ValidUtf8Prefix(text) != text.size()) {
      // An escape such as "\uD800" in a double-quoted scalar.
      Fail(line, path, "not valid UTF-8 (an escape of a surrogate or an invalid code point?)");
    }
    if (node.Tag() == "!") return text;
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
      return nullptr;
    }
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    if (LooksNonFinite(text)) {
      Fail(line, path,
           text +
               " is not a finite number; study files take finite numbers only (quote it for "
               "the text)");
    }
    const std::string shown = text.size() > 40 ? text.substr(0, 37) + "..." : text;
    if (LooksInteger(text)) {
      errno = 0;
      const long long value = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) {
        Fail(line, path,
             shown +
                 " is out of range of a 64-bit integer (from -9223372036854775808 to "
                 "9223372036854775807; quote it for the text)");
      }
      return static_cast<int64_t>(value);
    }
    if (LooksFloat(text)) {
      errno = 0;
      const double value = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(value)) {
        Fail(line, path, shown + " is out of range of a double (at most about 1.8e308)");
      }
      if (NonZeroMantissa(text) &&
          (value == 0 || (errno == ERANGE && std::fpclassify(value) == FP_SUBNORMAL))) {
        Fail(line, path,
             shown +
                 " is too close to zero for a double (the smallest is about 2.2e-308); "
                 "write 0 for zero");
      }
      return value;
    }
    return text;
  }

  Json Sequence(const YAML::Node& node, const std::string& path) {
    Json array = Json::array();
    size_t i = 0;
    for (const YAML::Node& item : node) {
      array.push_back(Convert(item, path + "[" + std::to_string(i++) + "]"));
    }
    return array;
  }

  Json Map(const YAML::Node& node, const std::string& path, int map_line) {
    Json object = Json::object();
    for (const auto& item : node) {
      const int line = item.first.Mark().line >= 0 ? item.first.Mark().line + 1 : map_line;
      if (!item.first.IsScalar()) {
        Fail(line, path,
             std::string("a key must be a plain name, not ") +
                 (item.first.IsSequence() ? "a list"
                  : item.first.IsMap()    ? "a mapping"
                                          : "empty") +
                 " (a '? ' complex key or a key in braces or brackets)");
      }
      const std::string& key = item.first.Scalar();
      const std::string child = path.empty() ? key : path + "." + key;
      if (key.empty()) Fail(line, path, "a key must not be empty");
      if (ValidUtf8Prefix(key) != key.size()) Fail(line, path, "a key is not valid UTF-8");
      Charge(line, child, key.size());
      if (object.contains(key)) {
        // YAML forbids duplicate keys; yaml-cpp would keep one silently.
        const auto first = lines_.find(child);
        Fail(line, child,
             "given twice (first on line " +
                 std::to_string(first == lines_.end() ? 0 : first->second) + ")");
      }
      lines_[child] = line;
      object[key] = Convert(item.second, child);
      lines_[child] = line;
    }
    return object;
  }

  const std::string& origin_;
  LineMap& lines_;
  std::vector<YAML::Node> open_;  // the mappings and lists being walked, outermost first
  size_t values_ = 0;
  size_t bytes_ = 0;
};

}  // namespace

std::string JoinPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string Describe(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 60) {
    size_t cut = 57;
    // Not inside a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

Json ParseYamlText(const std::string& text, const std::string& origin, LineMap& lines) {
  CheckStudyText(text, origin);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string where = origin + ":" + std::to_string(std::max(e.mark.line, 0) + 1) + ": ";
    // yaml-cpp stops recursing at 2000 levels with YAML::DeepRecursion (not exported by the
    // library, so known by its name) and the message "bad file".
    if (std::string(typeid(e).name()).find("DeepRecursion") != std::string::npos) {
      throw UserError(where + "mappings and lists nested deeper than " +
                      std::to_string(kMaxStudyDepth) + " levels");
    }
    throw UserError(where + "not valid YAML or JSON: " + e.msg);
  }
  Walk walk(origin, lines);
  Json document = walk.Convert(root, "");
  lines.emplace("", 1);  // an empty document's
  return document;
}

Json ReadYamlDocument(const std::string& path, LineMap& lines) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    const std::string shown = path.size() > 200 ? path.substr(0, 197) + "..." : path;
    throw UserError(shown + ": cannot read the study file: " + ec.message());
  }
  if (std::filesystem::is_directory(status)) {
    throw UserError(path + ": is a folder; expected a study file (YAML or JSON)");
  }
  if (!std::filesystem::exists(status)) throw UserError(path + ": study file not found");
  if (!std::filesystem::is_regular_file(status)) {
    throw UserError(path + ": not a regular file; expected a study file (YAML or JSON)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open the study file: " + std::strerror(errno));
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxStudyFileBytes) {
      throw UserError(path + ": larger than " + std::to_string(kMaxStudyFileBytes >> 20) +
                      " MiB; a study file may have at most " + std::to_string(kMaxStudyFileBytes) +
                      " bytes");
    }
  }
  if (in.bad()) throw UserError(path + ": cannot read the study file: " + std::strerror(errno));
  return ParseYamlText(text, path, lines);
}

std::string Checker::Where(const std::string& path) const {
  std::string where = origin_;
  if (lines_ != nullptr) {
    // The line of the key, or of its nearest parent that has one (the document's, last).
    std::string probe = path;
    while (true) {
      auto it = lines_->find(probe);
      if (it != lines_->end()) {
        where += ":" + std::to_string(it->second);
        break;
      }
      if (probe.empty()) break;
      const size_t cut = probe.find_last_of(".[");
      probe = cut == std::string::npos ? "" : probe.substr(0, cut);
    }
  }
  return where;
}

void Checker::Fail(const std::string& path, const std::string& message) const {
  throw UserError(Where(path) + ": " + (path.empty() ? "" : "'" + path + "': ") + message);
}

void Checker::Warn(const std::string& path, const std::string& message) const {
  if (warnings_ == nullptr) return;
  warnings_->push_back(Where(path) + ": warning: " + (path.empty() ? "" : "'" + path + "': ") +
                       message);
}

void Checker::OnlyKeys(const Json& object, const std::string& path,
                       const std::vector<std::string>& allowed) const {
  for (const auto& item : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Fail(JoinPath(path, item.key()), "unknown key; expected one of: " + list);
    }
  }
}

const Json& Checker::Object(const Json& parent, const std::string& key,
                            const std::string& path) const {
  const Json& value = parent.at(key);
  if (!value.is_object()) Fail(path, "expected a mapping, got " + Describe(value));
  return value;
}

std::string Checker::String(const Json& value, const std::string& path) const {
  if (!value.is_string() || value.get<std::string>().empty()) {
    Fail(path, "expected a non-empty string, got " + Describe(value));
  }
  return value.get<std::string>();
}

std::string Checker::Enum(const Json& value, const std::string& path,
                          const std::vector<std::string>& options) const {
  const std::string text = value.is_string() ? value.get<std::string>() : "";
  if (std::find(options.begin(), options.end(), text) == options.end()) {
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : " | ") + o;
    Fail(path, "expected one of " + list + ", got " + Describe(value));
  }
  return text;
}

int64_t Checker::Integer(const Json& value, const std::string& path, int64_t min_value,
                         int64_t max_value) const {
  const std::string expected =
      "an integer from " + std::to_string(min_value) + " to " + std::to_string(max_value);
  if (!value.is_number_integer()) Fail(path, "expected " + expected + ", got " + Describe(value));
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max_value)) {
    Fail(path, "expected " + expected + ", got " + Describe(value));
  }
  const int64_t v = value.get<int64_t>();
  if (v < min_value || v > max_value)
    Fail(path, "expected " + expected + ", got " + Describe(value));
  return v;
}

double Checker::Number(const Json& value, const std::string& path) const {
  if (!value.is_number()) Fail(path, "expected a number, got " + Describe(value));
  const double v = value.get<double>();
  if (!std::isfinite(v)) Fail(path, "expected a finite number");
  return v;
}

std::string Checker::Path(const Json& value, const std::string& path) const {
  const std::string text = String(value, path);
  if (text.size() > 4095) {
    Fail(path, "a path of " + std::to_string(text.size()) + " bytes; expected at most 4095");
  }
  if (text.find('\0') != std::string::npos) Fail(path, "a path must not hold a NUL character");
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('/', start);
    if (end == std::string::npos) end = text.size();
    if (end - start > 255) {
      Fail(path, "a file or folder name of " + std::to_string(end - start) +
                     " bytes in the path; expected at most 255");
    }
    start = end + 1;
  }
  return text;
}

bool Checker::Bool(const Json& value, const std::string& path) const {
  if (!value.is_boolean()) Fail(path, "expected true or false, got " + Describe(value));
  return value.get<bool>();
}

}  // namespace ensweep
