#include "core/study_document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "core/error.h"

namespace ensweep {
namespace {

// YAML scalars carry no type; resolve them as YAML 1.2's core schema does. Quoted scalars
// (tag "!") always stay strings.
Json ScalarToJson(const YAML::Node& node) {
  const std::string text = node.Scalar();
  if (node.Tag() == "!") return text;
  static const std::regex int_pattern(R"([-+]?[0-9]+)");
  static const std::regex float_pattern(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, int_pattern)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return text;
    }
  }
  if (std::regex_match(text, float_pattern)) return std::stod(text);
  return text;
}

Json YamlToJson(const YAML::Node& node, const std::string& file, const std::string& path,
                LineMap& lines) {
  if (node.Mark().line >= 0) lines.emplace(path, node.Mark().line + 1);
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        array.push_back(YamlToJson(node[i], file, path + "[" + std::to_string(i) + "]", lines));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& item : node) {
        const std::string key = item.first.as<std::string>();
        const std::string child = JoinPath(path, key);
        if (object.contains(key)) {
          // YAML forbids duplicate keys; yaml-cpp would keep one silently.
          throw UserError(file + ":" + std::to_string(item.first.Mark().line + 1) + ": '" + child +
                          "': given twice (first on line " +
                          std::to_string(lines.count(child) ? lines.at(child) : 0) + ")");
        }
        if (item.first.Mark().line >= 0) lines[child] = item.first.Mark().line + 1;
        object[key] = YamlToJson(item.second, file, child, lines);
        if (item.first.Mark().line >= 0) lines[child] = item.first.Mark().line + 1;
      }
      return object;
    }
    default:
      return nullptr;
  }
}

}  // namespace

std::string JoinPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string Describe(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

Json ReadYamlDocument(const std::string& path, LineMap& lines) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw UserError(path + ": is a folder; expected a study file (YAML or JSON)");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UserError(path + ": study file not found");
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw UserError(path + ":" + std::to_string(e.mark.line + 1) +
                    ": not valid YAML or JSON: " + e.msg);
  }
  return YamlToJson(root, path, "", lines);
}

void Checker::Fail(const std::string& path, const std::string& message) const {
  std::string where = origin_;
  if (lines_ != nullptr) {
    // The line of the key, or of its nearest parent that has one.
    std::string probe = path;
    while (!probe.empty()) {
      auto it = lines_->find(probe);
      if (it != lines_->end()) {
        where += ":" + std::to_string(it->second);
        break;
      }
      const size_t cut = probe.find_last_of(".[");
      probe = cut == std::string::npos ? "" : probe.substr(0, cut);
    }
  }
  throw UserError(where + ": " + (path.empty() ? "" : "'" + path + "': ") + message);
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

int64_t Checker::Integer(const Json& value, const std::string& path, int64_t min_value) const {
  if (!value.is_number_integer()) Fail(path, "expected an integer, got " + Describe(value));
  const int64_t v = value.get<int64_t>();
  if (v < min_value)
    Fail(path,
         "expected an integer >= " + std::to_string(min_value) + ", got " + std::to_string(v));
  return v;
}

double Checker::Number(const Json& value, const std::string& path) const {
  if (!value.is_number()) Fail(path, "expected a number, got " + Describe(value));
  const double v = value.get<double>();
  if (!std::isfinite(v)) Fail(path, "expected a finite number");
  return v;
}

bool Checker::Bool(const Json& value, const std::string& path) const {
  if (!value.is_boolean()) Fail(path, "expected true or false, got " + Describe(value));
  return value.get<bool>();
}

}  // namespace ensweep
