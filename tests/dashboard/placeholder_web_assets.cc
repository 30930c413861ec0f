// A small stand-in for the dashboard's web files (dashboard/web_assets.h) in the dashboard tests:
// an index.html that refers to the other three as the real one does.
#include <cstring>

#include "dashboard/web_assets.h"

namespace ensweep {
namespace {

const char kIndex[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>ensweep</title>\n"
    "<link rel=\"stylesheet\" href=\"style.css\">\n</head><body><div id=\"app\"></div>\n"
    "<script src=\"chart.min.js\"></script>\n<script src=\"app.js\"></script>\n</body></html>\n";
const char kApp[] = "document.getElementById('app').textContent = 'placeholder app';\n";
const char kChart[] = "window.Chart = function Chart() {};\n";
const char kStyle[] = "body { font-family: sans-serif; }\n";

WebAsset Make(const char* path, const char* type, const char* text) {
  return WebAsset{path, type, reinterpret_cast<const unsigned char*>(text), std::strlen(text)};
}

}  // namespace

const std::vector<WebAsset>& WebAssets() {
  static const std::vector<WebAsset> assets = {
      Make("/index.html", "text/html; charset=utf-8", kIndex),
      Make("/app.js", "text/javascript; charset=utf-8", kApp),
      Make("/chart.min.js", "text/javascript; charset=utf-8", kChart),
      Make("/style.css", "text/css; charset=utf-8", kStyle),
  };
  return assets;
}

const WebAsset* FindWebAsset(const std::string& path) {
  for (const WebAsset& asset : WebAssets()) {
    if (path == asset.path) return &asset;
  }
  return nullptr;
}

}  // namespace ensweep
