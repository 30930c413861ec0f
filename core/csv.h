// Minimal CSV reading for the plain, unquoted CSV files of the competition layout.
#pragma once

#include <string>
#include <vector>

namespace ensweep {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;  // 1-based line number of each row, for messages

  // Index of a header column; throws UserError naming the file if it is absent.
  size_t Column(const std::string& name) const;
};

// Splits on commas, strips a trailing '\r' and surrounding double quotes. Throws UserError if the
// file cannot be read or a row has a different number of fields than the header.
CsvTable ReadCsv(const std::string& path);

std::vector<std::string> SplitCsvLine(const std::string& line);

}  // namespace ensweep
