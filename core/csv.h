// The project's one CSV reader and writer (RFC 4180): every CSV ensweep reads or writes goes
// through here, so whatever it writes it can read back.
//
// Fields are separated by commas; a field containing a comma, a double quote, CR or LF is written
// in double quotes with its quotes doubled; records end in "\n" when written and in "\n" or
// "\r\n" when read. A quoted field may span lines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace ensweep {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;  // 1-based line number where each row starts, for messages

  // Index of a header column; throws UserError naming the file if it is absent.
  size_t Column(const std::string& name) const;
};

// Reads the file at `path`: the first record is the header (a UTF-8 byte order mark before it is
// dropped), empty lines between records are skipped. Throws UserError naming path:line if the
// file cannot be read or is empty, a quoted field is not closed, a closing quote is followed by
// anything but a comma or the end of the record, or a row has a different number of fields than
// the header.
CsvTable ReadCsv(const std::string& path);

// ReadCsv on text already in memory; `path` is only used in messages.
CsvTable ParseCsv(const std::string& text, const std::string& path);

// `text` as one CSV field: unchanged unless it contains a comma, a double quote, CR or LF; then in
// double quotes, with its double quotes doubled.
std::string CsvField(const std::string& text);

// Writes one record: the fields as CsvField, comma-separated, then "\n".
void WriteCsvRow(std::ostream& out, const std::vector<std::string>& fields);

}  // namespace ensweep
