#include "apps/table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace ensweep {
namespace {

bool LooksNumeric(const std::string& cell) {
  if (cell.empty()) return false;
  return std::all_of(cell.begin(), cell.end(), [](unsigned char c) {
    return std::isdigit(c) || c == '.' || c == '-' || c == 'e' || c == '+' || c == '%';
  });
}

}  // namespace

std::string TextTable::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  for (size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  }
  auto render_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      const size_t pad = width[c] - std::min(width[c], cell.size());
      const bool last = c + 1 == width.size();
      if (!header && LooksNumeric(cell)) {
        line += std::string(pad, ' ') + cell;
      } else {
        line += cell + (last ? "" : std::string(pad, ' '));
      }
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::string out = render_row(header_, true);
  for (const auto& row : rows_) out += render_row(row, false);
  return out;
}

std::string FormatFixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string FormatSeconds(double seconds) {
  char text[32];
  if (seconds < 120) {
    std::snprintf(text, sizeof(text), "%.1fs", seconds);
  } else {
    std::snprintf(text, sizeof(text), "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  }
  return text;
}

}  // namespace ensweep
