// WriteDataProfile (audit/data_profile.h): the CSV files and the HTML summary.
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include "audit/audit_report.h"
#include "audit/data_profile.h"
#include "core/csv.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::ofstream Open(const fs::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path.string() + ": cannot open for writing");
  return out;
}

void Close(std::ofstream& out, const fs::path& path) {
  out.close();
  if (!out) throw std::runtime_error(path.string() + ": write failed");
}

void WriteCsvFiles(const fs::path& dir, const DataProfile& p) {
  const fs::path counts = dir / "counts.csv", images = dir / "images.csv",
                 duplicates = dir / "duplicates.csv";
  std::ofstream c = Open(counts), i = Open(images), d = Open(duplicates);
  WriteCsvRow(c, {"set", "field", "value", "count"});
  for (const auto& [set, fields] : p.counts) {
    for (const auto& [field, values] : fields) {
      for (const auto& [value, count] : values) {
        WriteCsvRow(c, {set, field, value, std::to_string(count)});
      }
    }
  }
  WriteCsvRow(i,
              {"set", "path", "person", "format", "width", "height", "bytes", "readable", "error"});
  for (const ImageFacts& f : p.images) {
    WriteCsvRow(
        i, {f.set, f.path, f.person, f.format, std::to_string(f.width), std::to_string(f.height),
            std::to_string(f.bytes), f.readable ? "1" : "0", f.error});
  }
  WriteCsvRow(d, {"kind", "distance", "set_a", "path_a", "set_b", "path_b"});
  for (const DuplicatePair& pair : p.duplicates) {
    const ImageFacts &a = p.images[pair.a], &b = p.images[pair.b];
    WriteCsvRow(d, {pair.exact ? "exact" : "near", std::to_string(pair.distance), a.set, a.path,
                    b.set, b.path});
  }
  Close(c, counts);
  Close(i, images);
  Close(d, duplicates);
}

void WriteCounts(std::ofstream& out, const DataProfile& p) {
  out << "<h2>Counts</h2>\n<p>Train from the labels; eval: " << HtmlEscape(p.eval_counts_source)
      << ".</p>\n<table><tr><th>set</th><th>field</th><th>value</th><th>count</th></tr>\n";
  for (const auto& [set, fields] : p.counts) {
    for (const auto& [field, values] : fields) {
      for (const auto& [value, count] : values) {
        out << "<tr><td>" << set << "</td><td>" << HtmlEscape(field) << "</td><td>"
            << HtmlEscape(value) << "</td><td>" << count << "</td></tr>\n";
      }
    }
  }
  out << "</table>\n";
}

void WriteFormats(std::ofstream& out, const DataProfile& p) {
  std::map<std::string, int> sizes;
  std::vector<const ImageFacts*> unreadable;
  for (const ImageFacts& f : p.images) {
    if (!f.readable) {
      unreadable.push_back(&f);
      continue;
    }
    ++sizes[f.set + " " + f.format + " " + std::to_string(f.width) + "x" +
            std::to_string(f.height)];
  }
  out << "<h2>Formats and sizes</h2>\n<table><tr><th>set format size</th><th>images</th></tr>\n";
  for (const auto& [key, count] : sizes) {
    out << "<tr><td>" << HtmlEscape(key) << "</td><td>" << count << "</td></tr>\n";
  }
  out << "</table>\n<h2>Unreadable files: " << unreadable.size() << "</h2>\n<ul>\n";
  for (const ImageFacts* f : unreadable) {
    out << "<li>" << HtmlEscape(f->path) << ": " << HtmlEscape(f->error) << "</li>\n";
  }
  out << "</ul>\n";
}

void WriteDuplicates(std::ofstream& out, const DataProfile& p) {
  std::map<std::string, int> kinds;
  for (const DuplicatePair& pair : p.duplicates) {
    ++kinds[std::string(pair.exact ? "exact" : "near") + " " + p.images[pair.a].set + "-" +
            p.images[pair.b].set];
  }
  out << "<h2>Duplicates</h2>\n<table><tr><th>kind, sets</th><th>pairs</th></tr>\n";
  for (const auto& [kind, count] : kinds) {
    out << "<tr><td>" << HtmlEscape(kind) << "</td><td>" << count << "</td></tr>\n";
  }
  out << "</table>\n<p>The first pairs (duplicates.csv lists them all):</p>\n<table>\n";
  for (size_t k = 0; k < p.duplicates.size() && k < 50; ++k) {
    const DuplicatePair& pair = p.duplicates[k];
    const ImageFacts &a = p.images[pair.a], &b = p.images[pair.b];
    out << "<tr><td>" << (pair.exact ? "exact" : "near, " + std::to_string(pair.distance) + " bits")
        << "</td><td>" << InlineImage(a.path, 64) << "<br><small>" << a.set << ": "
        << HtmlEscape(a.path) << "</small></td><td>" << InlineImage(b.path, 64) << "<br><small>"
        << b.set << ": " << HtmlEscape(b.path) << "</small></td></tr>\n";
  }
  out << "</table>\n";
}

}  // namespace

void WriteDataProfile(const std::string& dir, const DataProfile& profile,
                      const std::string& title) {
  fs::create_directories(dir);
  WriteCsvFiles(dir, profile);
  const fs::path page = fs::path(dir) / "data_profile.html";
  std::ofstream out = Open(page);
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>data profile: "
      << HtmlEscape(title) << "</title><style>body{font-family:sans-serif;margin:1em}"
      << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px}</style>"
      << "</head><body>\n<h1>Data profile: " << HtmlEscape(title) << "</h1>\n";
  WriteCounts(out, profile);
  WriteFormats(out, profile);
  WriteDuplicates(out, profile);
  out << "</body></html>\n";
  Close(out, page);
}

}  // namespace ensweep
