#include "dashboard/report.h"

#include <algorithm>
#include <cmath>
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
constexpr size_t kReportCurves = 1000;

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

Json Finite(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? Json(*value) : Json(nullptr);
}

Json When(double seconds, bool present) { return present ? Json(seconds) : Json(nullptr); }

// Appends a trial's value (or null) under `name` of `columns`, whose arrays are `rows` long.
void AddCell(Json& columns, const std::string& name, size_t rows, const Json& value) {
  Json& column = columns[name];
  if (column.is_null()) column = Json::array();
  while (column.size() < rows) column.push_back(nullptr);
  column.push_back(value);
}

// Every trial of the study, best first, as the leaderboard's trials?limit=all answer in the
// compact form of docs/dashboard.md "The report": one array per field, one per parameter and per
// metric, instead of an object per trial.
Json TrialColumns(const Store& store, const StudyRecord& study) {
  // Read by number and ordered here: SQLite's sort of 100,000 whole rows by value spills to
  // temporary files (4 s, against 0.4 s this way). The order is the API's: by value, best first,
  // trials without one last, ties by number.
  Store::TrialQuery q;
  q.sort = "number";
  q.descending = false;
  Store::TrialPage page = store.QueryTrials(study.id, q);
  std::stable_sort(page.trials.begin(), page.trials.end(),
                   [&](const TrialRecord& a, const TrialRecord& b) {
                     const bool ha = a.value.has_value(), hb = b.value.has_value();
                     if (ha != hb) return ha;
                     if (!ha || *a.value == *b.value) return false;  // stable: by number
                     return study.maximize ? *a.value > *b.value : *a.value < *b.value;
                   });
  Json c = Json::object(), params = Json::object(), metrics = Json::object();
  const char* fields[] = {"number", "state",     "value",      "epochs_done", "best_epoch",
                          "worker", "queued_at", "started_at", "finished_at", "duration_seconds",
                          "error",  "retries"};
  for (const char* f : fields) c[f] = Json::array();
  size_t row = 0;
  for (const TrialRecord& t : page.trials) {
    c["number"].push_back(t.number);
    c["state"].push_back(TrialStateName(t.state));
    c["value"].push_back(Finite(t.value));
    c["epochs_done"].push_back(t.epochs_done);
    const auto best = t.metrics.find("best_epoch");
    c["best_epoch"].push_back(best != t.metrics.end() && best->is_number()
                                  ? Json(static_cast<int64_t>(best->get<double>()))
                                  : Json(nullptr));
    c["worker"].push_back(t.worker);
    c["queued_at"].push_back(When(t.queued_at, t.queued_at > 0));
    c["started_at"].push_back(When(t.started_at, t.started_at > 0));
    c["finished_at"].push_back(When(t.finished_at, t.finished_at > 0));
    c["duration_seconds"].push_back(
        When(t.finished_at - t.started_at, t.started_at > 0 && t.finished_at > 0));
    c["error"].push_back(t.error);
    c["retries"].push_back(t.retries);
    for (const auto& [name, value] : t.params.items()) AddCell(params, name, row, value);
    for (const auto& [name, value] : t.metrics.items()) AddCell(metrics, name, row, value);
    ++row;
  }
  for (Json* group : {&params, &metrics}) {
    for (auto& [name, column] : group->items()) {
      while (column.size() < row) column.push_back(nullptr);
    }
  }
  c["params"] = std::move(params);
  c["metrics"] = std::move(metrics);
  return Json{{"total", page.total}, {"offset", 0}, {"limit", "all"}, {"columns", std::move(c)}};
}

// Trial `row` of a TrialColumns answer as the API's trial object (the fields MarkdownReport uses).
Json TrialRow(const Json& columns, size_t row) {
  Json t = Json::object();
  for (const char* f : {"number", "state", "value"}) t[f] = columns.at(f).at(row);
  for (const char* group : {"params", "metrics"}) {
    Json values = Json::object();
    for (const auto& [name, column] : columns.at(group).items()) {
      if (!column.at(row).is_null()) values[name] = column.at(row);
    }
    t[group] = std::move(values);
  }
  return t;
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
  data[base + "/trials?limit=all"] = TrialColumns(store, study);
  say("history and learning curves");
  data[base + "/history"] = Get(api, store, base + "/history");
  // The curves of the best kReportCurves trials by value (the first of the list above), not of
  // every trial: the learning-curves page picks among the best 100.
  const Json& numbers_by_value = data[base + "/trials?limit=all"]["columns"]["number"];
  std::string wanted;
  for (size_t i = 0; i < numbers_by_value.size() && i < kReportCurves; ++i) {
    wanted += (i == 0 ? "" : ",") + numbers_by_value[i].dump();
  }
  Json curves = wanted.empty() ? Json{{"metric", study.metric}, {"curves", Json::array()}}
                               : Get(api, store, base + "/curves?trials=" + wanted);
  curves["best_trials_only"] = kReportCurves;
  data[base + "/curves"] = std::move(curves);
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
  const Json& columns = data.at(base + "/trials?limit=all").at("columns");
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
  for (size_t row = 0; row < columns.at("number").size(); ++row) {
    const Json t = TrialRow(columns, row);
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
