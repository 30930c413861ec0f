#include "core/csv.h"

#include <fstream>

#include "core/error.h"

namespace ensweep {

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  for (char c : line) {
    if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  fields.push_back(field);
  for (auto& f : fields) {
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
  }
  return fields;
}

size_t CsvTable::Column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ",") + h;
  throw UserError(path + ":1: expected a column named '" + name + "' (header is: " + have + ")");
}

CsvTable ReadCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open file");
  CsvTable table;
  table.path = path;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
      table.header = SplitCsvLine(line);
      continue;
    }
    if (line.empty()) continue;
    auto fields = SplitCsvLine(line);
    if (fields.size() != table.header.size()) {
      throw UserError(path + ":" + std::to_string(number) + ": expected " +
                      std::to_string(table.header.size()) + " fields, found " +
                      std::to_string(fields.size()));
    }
    table.rows.push_back(std::move(fields));
    table.lines.push_back(number);
  }
  if (number == 0) throw UserError(path + ": empty file, expected a header line");
  return table;
}

}  // namespace ensweep
