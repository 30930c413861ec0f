// Plain-text tables with aligned columns, for terminal output.
#pragma once

#include <string>
#include <vector>

#include "core/text.h"  // CountOf, used with these tables

namespace ensweep {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns separated by two spaces; numbers-looking cells right-aligned.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string FormatFixed(double value, int decimals);
// "12.3s" below two minutes, else "4m05s".
std::string FormatSeconds(double seconds);

}  // namespace ensweep
