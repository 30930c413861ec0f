#include "core/csv.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tests/scratch_dir.h"

using namespace ensweep;

namespace {

std::string Written(const std::vector<std::vector<std::string>>& records) {
  std::ostringstream out;
  for (const auto& r : records) WriteCsvRow(out, r);
  return out.str();
}

std::string ErrorOf(const std::string& text, const std::string& path) {
  try {
    ParseCsv(text, path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("fields with commas, quotes, newlines and CRs are read back as written", "[csv]") {
  const std::vector<std::vector<std::string>> records = {
      {"path", "label"},          {"a,b.jpg", "cat"}, {"say \"hi\"", "\"quoted\""},
      {"two\nlines", "cr\r\nlf"}, {"", "plain"},
  };
  const std::string text = Written(records);
  CHECK(text.substr(0, 24) == "path,label\n\"a,b.jpg\",cat");
  const CsvTable table = ParseCsv(text, "t.csv");
  CHECK(table.header == records[0]);
  REQUIRE(table.rows.size() == 4);
  for (size_t i = 0; i < table.rows.size(); ++i) CHECK(table.rows[i] == records[i + 1]);
  // A row starts on the line its first field starts on; quoted line breaks count.
  CHECK(table.lines == std::vector<int>{2, 3, 4, 7});
}

TEST_CASE("CRLF line ends, a byte order mark and blank lines are read like LF", "[csv]") {
  const CsvTable table =
      ParseCsv("\xEF\xBB\xBFImageID,ans\r\n1.jpg,3\r\n\r\n\"2,x.jpg\",4\r\n", "crlf.csv");
  CHECK(table.header == std::vector<std::string>{"ImageID", "ans"});
  REQUIRE(table.rows.size() == 2);
  CHECK(table.rows[0] == std::vector<std::string>{"1.jpg", "3"});
  CHECK(table.rows[1] == std::vector<std::string>{"2,x.jpg", "4"});
  CHECK(table.lines == std::vector<int>{2, 4});
}

TEST_CASE("a file with an unterminated quote is an error naming the file and line", "[csv]") {
  CHECK(ErrorOf("path,label\na.jpg,1\n\"b.jpg,2\nc.jpg,3\n", "bad.csv")
            .rfind("bad.csv:3: unterminated quoted field", 0) == 0);
  CHECK(ErrorOf("path,label\n\"a\"x,1\n", "junk.csv").rfind("junk.csv:2: expected ','", 0) == 0);
  CHECK(ErrorOf("path,label\na,b,c\n", "wide.csv") == "wide.csv:2: expected 2 fields, found 3");
  CHECK(ErrorOf("", "empty.csv") == "empty.csv: empty file, expected a header line");
}

TEST_CASE("ReadCsv reads a file that WriteCsvRow wrote", "[csv]") {
  const auto path = test::ScratchPath("csv", "round_trip.csv");
  {
    std::ofstream out(path, std::ios::binary);
    WriteCsvRow(out, {"path", "label"});
    WriteCsvRow(out, {"/data/cats,dogs/a.jpg", "cat"});
  }
  const CsvTable table = ReadCsv(path.string());
  REQUIRE(table.rows.size() == 1);
  CHECK(table.rows[0][0] == "/data/cats,dogs/a.jpg");
  CHECK(table.path == path.string());
}
