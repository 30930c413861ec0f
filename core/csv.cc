#include "core/csv.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ensweep {
namespace {

// Reads records from CSV text one at a time, counting lines for messages.
class CsvParser {
 public:
  CsvParser(const std::string& text, const std::string& path) : text_(text), path_(path) {
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  int line() const { return line_; }

  // Skips line ends before the next record; returns false at the end of the text.
  bool SkipEmptyLines() {
    while (!AtEnd() && (text_[pos_] == '\n' || text_[pos_] == '\r')) EndLine();
    return !AtEnd();
  }

  // The record starting at the current position; consumes its line end.
  std::vector<std::string> Record() {
    std::vector<std::string> fields;
    for (;;) {
      fields.push_back(AtEnd() || text_[pos_] != '"' ? Unquoted() : Quoted());
      if (AtEnd()) break;
      const char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      EndLine();  // Unquoted and Quoted stop only at a comma or a line end
      break;
    }
    return fields;
  }

 private:
  void EndLine() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  std::string Unquoted() {
    const size_t end = text_.find_first_of(",\r\n", pos_);
    const size_t stop = end == std::string::npos ? text_.size() : end;
    std::string field = text_.substr(pos_, stop - pos_);
    pos_ = stop;
    return field;
  }

  std::string Quoted() {
    const int opened = line_;
    ++pos_;
    std::string field;
    for (;;) {
      if (AtEnd()) {
        throw UserError(path_ + ":" + std::to_string(opened) +
                        ": unterminated quoted field (expected a closing '\"')");
      }
      const char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          field += '"';
          pos_ += 2;
          continue;
        }
        ++pos_;
        break;
      }
      if (c == '\n') ++line_;
      field += c;
      ++pos_;
    }
    if (!AtEnd() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
      throw UserError(path_ + ":" + std::to_string(line_) +
                      ": expected ',' or the end of the line after a closing '\"'");
    }
    return field;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

size_t CsvTable::Column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ",") + h;
  throw UserError(path + ":1: expected a column named '" + name + "' (header is: " + have + ")");
}

CsvTable ParseCsv(const std::string& text, const std::string& path) {
  CsvParser parser(text, path);
  CsvTable table;
  table.path = path;
  if (parser.AtEnd()) throw UserError(path + ": empty file, expected a header line");
  table.header = parser.Record();
  while (parser.SkipEmptyLines()) {
    const int line = parser.line();
    auto fields = parser.Record();
    if (fields.size() != table.header.size()) {
      throw UserError(path + ":" + std::to_string(line) + ": expected " +
                      std::to_string(table.header.size()) + " fields, found " +
                      std::to_string(fields.size()));
    }
    table.rows.push_back(std::move(fields));
    table.lines.push_back(line);
  }
  return table;
}

CsvTable ReadCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UserError(path + ": cannot read file");
  return ParseCsv(text.str(), path);
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void WriteCsvRow(std::ostream& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) out << (i == 0 ? "" : ",") << CsvField(fields[i]);
  out << '\n';
}

}  // namespace ensweep
