#include "dashboard/report.h"

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core/error.h"
#include "dashboard/api.h"
#include "dashboard/web_assets.h"

namespace ensweep {
namespace {

using Json = nlohmann::json;

constexpr int kBestTrialPages = 20;
constexpr int kFailedTrialPages = 50;

Json Get(DashboardApi& api, const Store& store, const std::string& path) {
  ApiResponse answer = api.Handle(store, "GET", path);
  if (answer.status != 200) {
    throw std::runtime_error(path + ": " + answer.body.value("error", std::string("failed")));
  }
  return std::move(answer.body);
}

// "</" written "<\/" so that the text cannot close the <script> element holding it.
std::string ScriptSafe(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 64);
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') out += '\\';
  }
  return out;
}

const WebAsset& AssetFor(const std::string& reference) {
  std::string path = reference;
  if (path.rfind("./", 0) == 0) path = path.substr(1);
  if (path.empty() || path[0] != '/') path = "/" + path;
  const WebAsset* asset = FindWebAsset(path);
  if (asset == nullptr) {
    throw std::runtime_error("index.html refers to '" + reference + "', which is not a web asset");
  }
  return *asset;
}

std::string AssetText(const WebAsset& asset) {
  return std::string(reinterpret_cast<const char*>(asset.data), asset.size);
}

std::string Cell(const Json& value) {
  std::string text;
  if (value.is_null()) {
    text = "";
  } else if (value.is_number_float()) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.6g", value.get<double>());
    text = buffer;
  } else if (value.is_string()) {
    text = value.get<std::string>();
  } else {
    text = value.dump();
  }
  std::string out;
  for (const char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace

Json ReportData(const Store& store, const StudyRecord& study, const ReportProgress& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  DashboardApi api;
  const std::string base = "/api/studies/" + UrlEncode(study.name);
  Json data = Json::object();
  const double now = NowSeconds();
  data["/api/studies"] = Json{{"studies", Json::array({api.StudySummary(store, study, now)})}};
  data[base] = Get(api, store, base);
  say("trials: " + std::to_string(data[base]["total"].get<int64_t>()));
  data[base + "/trials?limit=all"] = Get(api, store, base + "/trials?limit=all");
  say("history and learning curves");
  data[base + "/history"] = Get(api, store, base + "/history");
  data[base + "/curves"] = Get(api, store, base + "/curves");
  say("importance");
  data[base + "/importance"] = Get(api, store, base + "/importance");
  data[base + "/ensembles"] = Get(api, store, base + "/ensembles");
  say("trial pages");
  std::vector<int64_t> numbers;
  for (const auto& t : store.TopTrials(study.id, study.maximize, kBestTrialPages)) {
    numbers.push_back(t.number);
  }
  Store::TrialQuery failed;
  failed.states = {TrialState::kFailed};
  failed.sort = "number";
  failed.descending = false;
  failed.limit = kFailedTrialPages;
  for (const auto& t : store.QueryTrials(study.id, failed).trials) numbers.push_back(t.number);
  for (const int64_t n : numbers) {
    const std::string path = base + "/trials/" + std::to_string(n);
    data[path] = Get(api, store, path);
  }
  return data;
}

std::string EmbedReport(const Json& data) {
  const WebAsset* index = FindWebAsset("/index.html");
  if (index == nullptr) throw std::runtime_error("this build has no dashboard web files");
  const std::string html = AssetText(*index);
  const std::string data_script =
      "<script>window.ENSWEEP_DATA = " +
      ScriptSafe(data.dump(-1, ' ', false, Json::error_handler_t::replace)) + ";</script>\n";
  static const std::regex element(
      R"re(<script\s+src="([^"]+)"\s*>\s*</script>|<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>)re");
  std::string out;
  out.reserve(html.size() + data_script.size() + 1024 * 1024);
  bool data_written = false;
  auto last = html.cbegin();
  for (std::sregex_iterator it(html.begin(), html.end(), element), end; it != end; ++it) {
    const std::smatch& m = *it;
    out.append(last, m[0].first);
    last = m[0].second;
    if (m[1].matched) {
      const std::string src = m[1].str();
      if (src.find("app.js") != std::string::npos && !data_written) {
        out += data_script;
        data_written = true;
      }
      out += "<script>" + ScriptSafe(AssetText(AssetFor(src))) + "</script>";
    } else {
      std::string css = AssetText(AssetFor(m[2].str()));
      out += "<style>" + ScriptSafe(css) + "</style>";
    }
  }
  out.append(last, html.cend());
  if (!data_written) {
    // No app.js script element: the data goes at the end of the head, before any script.
    const size_t head = out.find("</head>");
    out.insert(head == std::string::npos ? 0 : head, data_script);
  }
  return out;
}

// Long: one Markdown document, section after section in the order a reader scans them.
std::string MarkdownReport(const Json& data, const std::string& study) {
  const std::string base = "/api/studies/" + UrlEncode(study);
  const Json& s = data.at(base);
  std::ostringstream md;
  md << "## Study `" << study << "`\n\n";
  const Json& c = s.at("counts");
  md << "- objective: `" << s.value("metric", "") << "` (" << s.value("direction", "") << ")\n";
  md << "- trials: " << s.at("total")
     << (s.at("planned").is_null() ? "" : " of " + s.at("planned").dump()) << " planned; "
     << c.at("complete") << " complete, " << c.at("pruned") << " pruned, " << c.at("failed")
     << " failed, " << c.at("running") << " running, " << c.at("queued") << " queued, "
     << c.at("stale") << " stale\n";
  md << "- elapsed: " << Cell(s.at("elapsed_seconds")) << " s";
  if (!s.at("eta_seconds").is_null()) md << ", ETA " << Cell(s.at("eta_seconds")) << " s";
  md << "\n";
  if (!s.at("best").is_null()) {
    md << "- best: trial " << s["best"]["number"] << ", " << s.value("metric", "") << " = "
       << Cell(s["best"]["value"]) << "\n";
  }
  const Json& trials = data.at(base + "/trials?limit=all").at("trials");
  std::vector<std::string> params, metrics;
  for (const auto& p : s.at("params")) params.push_back(p.at("name").get<std::string>());
  for (const auto& m : s.at("metrics")) metrics.push_back(m.get<std::string>());
  md << "\n### Best trials\n\n| # | state | value |";
  for (const auto& p : params) md << " " << Cell(p) << " |";
  for (const auto& m : metrics) md << " " << Cell(m) << " |";
  md << "\n|---|---|---|";
  for (size_t i = 0; i < params.size() + metrics.size(); ++i) md << "---|";
  md << "\n";
  int shown = 0;
  for (const auto& t : trials) {
    if (t.at("value").is_null() || shown == 10) break;
    ++shown;
    md << "| " << t.at("number") << " | " << t.at("state").get<std::string>() << " | "
       << Cell(t.at("value")) << " |";
    for (const auto& p : params) md << " " << Cell(t.at("params").value(p, Json())) << " |";
    for (const auto& m : metrics) md << " " << Cell(t.at("metrics").value(m, Json())) << " |";
    md << "\n";
  }
  if (shown == 0) md << "| | no trial has a value yet | |\n";
  const Json& importance = data.at(base + "/importance");
  md << "\n### Parameter importance (" << importance.value("method", "fanova") << ", "
     << importance.value("trials_used", 0) << " trials)\n\n";
  if (importance.at("importances").empty()) md << "Not enough complete trials.\n";
  for (const auto& i : importance.at("importances")) {
    md << "- `" << i.at("param").get<std::string>() << "`: " << Cell(i.at("importance")) << "\n";
  }
  const Json& ensembles = data.at(base + "/ensembles").at("ensembles");
  md << "\n### Ensembles\n\n";
  if (ensembles.empty()) md << "None recorded (`ensweep ensemble`).\n";
  for (const auto& e : ensembles) {
    md << "- #" << e.at("id") << " " << e.at("method").get<std::string>() << ", members";
    for (const auto& m : e.at("members"))
      md << " " << m.at("number") << " (" << Cell(m.at("weight")) << ")";
    md << "; metrics " << Cell(e.at("metrics"));
    if (!e.at("best_single").is_null()) {
      md << "; best single trial " << e["best_single"]["number"] << ": "
         << Cell(e["best_single"]["value"]);
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace ensweep
