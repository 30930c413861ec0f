// The audit's outputs: suspects.csv (the format of core/data_edits.h, which data.exclude and
// data.relabel read back) and index.html, a self-contained page (no network, no other files):
// per suspect, thumbnails of its images (the original JPEG/PNG bytes as base64 data URIs, shown
// scaled down), the given and suggested values, the predicted distribution and the score.
#pragma once

#include <string>
#include <vector>

#include "audit/label_audit.h"

namespace ensweep {

struct AuditPageInfo {
  std::string title;               // e.g. the study's name
  std::vector<std::string> notes;  // lines shown above the table (what was averaged, ...)
  int max_rows = 300;              // suspects shown on the page (the CSV holds all)
};

// Writes <dir>/suspects.csv and <dir>/index.html (dir is created). Throws std::runtime_error on
// I/O failure; an image that cannot be read is shown as its path.
void WriteAuditReport(const std::string& dir, const AuditResult& result, const AuditPageInfo& info);

// RFC 4648 base64 of `bytes`.
std::string Base64(const std::string& bytes);

// `text` with &, <, >, " escaped for HTML.
std::string HtmlEscape(const std::string& text);

// An <img> whose source is the file's bytes as a data URI (image/jpeg or image/png by extension),
// `height` CSS pixels high; the path in a <span> if the file cannot be read.
std::string InlineImage(const std::string& path, int height);

}  // namespace ensweep
