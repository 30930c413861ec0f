// The dashboard's web files (dashboard/web/: index.html, app.js, style.css) and Chart.js (Debian's
// libjs-chart.js), compiled into the executable so that `ensweep serve` and `ensweep report` need
// nothing at run time. The bytes are generated at build time (cmake/EnsweepWebAssets.cmake); an
// edit to a web file rebuilds them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ensweep {

struct WebAsset {
  const char* path;          // "/index.html", "/app.js", "/chart.min.js", "/style.css"
  const char* content_type;  // e.g. "text/html; charset=utf-8"
  const unsigned char* data;
  size_t size;
};

// The asset served at `path`, or nullptr when there is none ("/" is not an asset: the server maps
// it to "/index.html").
const WebAsset* FindWebAsset(const std::string& path);
// Every asset, in a fixed order.
const std::vector<WebAsset>& WebAssets();

}  // namespace ensweep
