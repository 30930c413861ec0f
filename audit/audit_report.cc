#include "audit/audit_report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::string Fixed(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string PredictionCell(const Suspect& s) {
  std::string cell;
  for (size_t v = 0; v < s.values.size(); ++v) {
    const bool strong = s.values[v] == s.edit.suggested;
    cell += std::string(strong ? "<b>" : "") + HtmlEscape(s.values[v]) + " " +
            Fixed(s.predicted[v], 2) + (strong ? "</b>" : "") + "<br>";
  }
  return cell;
}

std::string SuspectRow(const Suspect& s, int rank) {
  std::ostringstream row;
  row << "<tr><td>" << rank << "</td><td class=imgs>";
  for (const std::string& image : s.images) row << InlineImage(image, 72);
  row << "</td><td>" << HtmlEscape(s.edit.person);
  if (!s.edit.person_level) row << "<br><small>" << HtmlEscape(s.edit.image) << "</small>";
  row << "</td><td>" << HtmlEscape(s.edit.field) << "</td><td class=given>"
      << HtmlEscape(s.edit.given) << "</td><td class=suggested>" << HtmlEscape(s.edit.suggested)
      << "</td><td>" << PredictionCell(s) << "</td><td>" << Fixed(s.edit.score, 3)
      << "</td></tr>\n";
  return row.str();
}

void WritePage(const fs::path& path, const AuditResult& result, const AuditPageInfo& info) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path.string() + ": cannot open for writing");
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>label audit: "
      << HtmlEscape(info.title) << "</title>\n<style>body{font-family:sans-serif;margin:1em}"
      << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;"
      << "vertical-align:top}img{margin:1px}.given{color:#b00}.suggested{color:#070;"
      << "font-weight:bold}.imgs{max-width:620px}</style></head><body>\n<h1>Label audit: "
      << HtmlEscape(info.title) << "</h1>\n";
  for (const std::string& note : info.notes) out << "<p>" << HtmlEscape(note) << "</p>\n";
  out << "<table><tr><th>field</th><th>level</th><th>audited</th><th>flagged</th>"
      << "<th>models' accuracy on the given values</th></tr>\n";
  for (const FieldSummary& f : result.fields) {
    out << "<tr><td>" << HtmlEscape(f.field) << "</td><td>" << (f.person_level ? "person" : "image")
        << "</td><td>" << f.examples << "</td><td>" << f.flagged << "</td><td>"
        << Fixed(f.accuracy, 3) << "</td></tr>\n";
  }
  out << "</table>\n<p>Where the models' accuracy on a field is low, most of its flags are the "
         "models' own mistakes rather than wrong labels: judge them on the thumbnails before "
         "excluding or relabelling them (<code>ensweep audit --fields</code> writes one field's "
         "suspects).</p>\n<h2>Suspects, most likely wrong first</h2>\n";
  const size_t shown = std::min(result.suspects.size(), static_cast<size_t>(info.max_rows));
  if (shown < result.suspects.size()) {
    out << "<p>The first " << shown << " of " << result.suspects.size()
        << " suspects; suspects.csv lists them all.</p>\n";
  }
  out << "<table><tr><th>#</th><th>images</th><th>person / image</th><th>field</th>"
      << "<th>given</th><th>suggested</th><th>predicted</th><th>score</th></tr>\n";
  for (size_t i = 0; i < shown; ++i) out << SuspectRow(result.suspects[i], static_cast<int>(i + 1));
  out << "</table>\n</body></html>\n";
  out.close();
  if (!out) throw std::runtime_error(path.string() + ": write failed");
}

}  // namespace

std::string Base64(const std::string& bytes) {
  static const char* const kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string InlineImage(const std::string& path, int height) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in || bytes.str().empty()) return "<span>" + HtmlEscape(path) + " (unreadable)</span>";
  const std::string ext = Lower(fs::path(path).extension().string());
  const std::string mime = ext == ".png" ? "image/png" : "image/jpeg";
  return "<img height=" + std::to_string(height) + " title=\"" +
         HtmlEscape(fs::path(path).filename().string()) + "\" src=\"data:" + mime + ";base64," +
         Base64(bytes.str()) + "\">";
}

void WriteAuditReport(const std::string& dir, const AuditResult& result,
                      const AuditPageInfo& info) {
  fs::create_directories(dir);
  std::vector<LabelEdit> edits;
  for (const Suspect& s : result.suspects) edits.push_back(s.edit);
  WriteLabelEdits((fs::path(dir) / "suspects.csv").string(), edits);
  WritePage(fs::path(dir) / "index.html", result, info);
}

}  // namespace ensweep
