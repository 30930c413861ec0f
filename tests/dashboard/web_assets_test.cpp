// The dashboard's web files compiled into the executable: every file the page loads is there, with
// the bytes of its source and a content type a browser accepts.
#include "dashboard/web_assets.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>

namespace {

std::string Bytes(const ensweep::WebAsset& asset) {
  return std::string(reinterpret_cast<const char*>(asset.data), asset.size);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("the embedded web assets hold the dashboard's files byte for byte", "[dashboard]") {
  const std::string web = std::string(ENSWEEP_SOURCE_DIR) + "/dashboard/web/";
  for (const std::string name : {"index.html", "app.js", "style.css"}) {
    const ensweep::WebAsset* asset = ensweep::FindWebAsset("/" + name);
    REQUIRE(asset != nullptr);
    CHECK(Bytes(*asset) == ReadFile(web + name));
  }
  const ensweep::WebAsset* chart = ensweep::FindWebAsset("/chart.min.js");
  REQUIRE(chart != nullptr);
  CHECK(Bytes(*chart).find("Chart.js v3.") != std::string::npos);
  CHECK(Bytes(*chart) == ReadFile(ENSWEEP_CHART_JS));
}

TEST_CASE("each asset has a content type that matches its extension", "[dashboard]") {
  std::set<std::string> paths;
  for (const auto& asset : ensweep::WebAssets()) {
    paths.insert(asset.path);
    const std::string path = asset.path, type = asset.content_type;
    INFO(path);
    if (path.size() > 5 && path.substr(path.size() - 5) == ".html") {
      CHECK(type == "text/html; charset=utf-8");
    } else if (path.substr(path.size() - 3) == ".js") {
      CHECK(type == "text/javascript; charset=utf-8");
    } else {
      CHECK(type == "text/css; charset=utf-8");
    }
  }
  CHECK(paths == std::set<std::string>{"/index.html", "/app.js", "/style.css", "/chart.min.js"});
}

TEST_CASE("every script and stylesheet index.html loads is an embedded asset", "[dashboard]") {
  const std::string html = Bytes(*ensweep::FindWebAsset("/index.html"));
  const std::regex ref(R"re((?:src|href)="([^"#:]+\.(?:js|css))")re");
  int found = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator();
       ++it) {
    INFO((*it)[1].str());
    CHECK(ensweep::FindWebAsset("/" + (*it)[1].str()) != nullptr);
    ++found;
  }
  CHECK(found == 3);
}

TEST_CASE("a path that is not an asset finds nothing", "[dashboard]") {
  CHECK(ensweep::FindWebAsset("/") == nullptr);
  CHECK(ensweep::FindWebAsset("index.html") == nullptr);
  CHECK(ensweep::FindWebAsset("/api/studies") == nullptr);
  CHECK(ensweep::FindWebAsset("/app.js/") == nullptr);
}
