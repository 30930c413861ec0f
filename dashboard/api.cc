#include "dashboard/api.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "analysis/importance.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/listing.h"
#include "core/npy.h"
#include "core/study.h"
#include "search/pruner.h"

namespace ensweep {
namespace {

using Json = nlohmann::json;

// A request answered with an error status.
struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

HttpError BadRequest(const std::string& message) { return HttpError(400, message); }
HttpError NotFound(const std::string& message) { return HttpError(404, message); }

struct Request {
  std::vector<std::string> segments;                       // decoded path segments after /api
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

Request ParseTarget(const std::string& target) {
  Request request;
  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  if (path.rfind("/api/", 0) != 0 && path != "/api") throw NotFound("no such path: " + path);
  size_t start = 4;
  while (start < path.size()) {
    const size_t slash = path.find('/', start + 1);
    const std::string raw =
        path.substr(start + 1, slash == std::string::npos ? std::string::npos : slash - start - 1);
    const auto decoded = UrlDecode(raw, false);
    if (!decoded) throw BadRequest("bad escape in the path: " + raw);
    if (!decoded->empty()) request.segments.push_back(*decoded);
    if (slash == std::string::npos) break;
    start = slash;
  }
  if (question == std::string::npos) return request;
  const std::string query = target.substr(question + 1);
  size_t from = 0;
  while (from <= query.size()) {
    const size_t amp = std::min(query.find('&', from), query.size());
    const std::string item = query.substr(from, amp - from);
    from = amp + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const auto key = UrlDecode(item.substr(0, eq), true);
    const auto value =
        UrlDecode(eq == std::string::npos ? std::string() : item.substr(eq + 1), true);
    if (!key || !value) throw BadRequest("bad escape in the query: " + item);
    request.query.emplace_back(*key, *value);
  }
  return request;
}

// Refuses query keys other than `allowed` (and, with `params`, param.<name>).
void CheckQueryKeys(const Request& request, const std::set<std::string>& allowed,
                    bool params = false) {
  for (const auto& [key, value] : request.query) {
    if (allowed.count(key) != 0) continue;
    if (params && key.rfind("param.", 0) == 0 && key.size() > 6) continue;
    throw BadRequest("unknown query key '" + key + "'");
  }
}

std::optional<std::string> QueryValue(const Request& request, const std::string& key) {
  for (const auto& [k, v] : request.query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

int64_t ParseCount(const std::string& text, const std::string& key, int64_t maximum) {
  size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < 0 || value > maximum) {
    throw BadRequest(key + "=" + text + ": expected a whole number from 0 to " +
                     std::to_string(maximum));
  }
  return value;
}

Json Nullable(double value, bool present) { return present ? Json(value) : Json(nullptr); }

Json OptionalValue(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? Json(*value) : Json(nullptr);
}

Json TrialJson(const TrialRecord& t) {
  Json j;
  j["number"] = t.number;
  j["state"] = TrialStateName(t.state);
  j["value"] = OptionalValue(t.value);
  j["params"] = t.params;
  j["metrics"] = t.metrics;
  j["epochs_done"] = t.epochs_done;
  const auto best = t.metrics.find("best_epoch");
  j["best_epoch"] = best != t.metrics.end() && best->is_number()
                        ? Json(static_cast<int64_t>(best->get<double>()))
                        : Json(nullptr);
  j["worker"] = t.worker;
  j["queued_at"] = Nullable(t.queued_at, t.queued_at > 0);
  j["started_at"] = Nullable(t.started_at, t.started_at > 0);
  j["finished_at"] = Nullable(t.finished_at, t.finished_at > 0);
  j["duration_seconds"] =
      Nullable(t.finished_at - t.started_at, t.started_at > 0 && t.finished_at > 0);
  j["error"] = t.error;
  j["retries"] = t.retries;
  return j;
}

StudyRecord FindStudyOr404(const Store& store, const std::string& name) {
  auto study = store.FindStudy(name);
  if (!study) throw NotFound("no study named '" + name + "'");
  return *study;
}

// The stored spec as a StudySpec, or nullopt for a spec this build cannot read.
std::optional<StudySpec> SpecOf(const StudyRecord& study) {
  try {
    return StudyFromJson(study.spec);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Json SpaceJson(const StudySpec& spec) {
  Json params = Json::array();
  for (const ParamSpec& p : spec.space.params) {
    if (p.kind == ParamKind::kConstant) continue;
    Json j;
    j["name"] = p.name;
    const bool numeric = p.kind != ParamKind::kChoice;
    j["type"] = !numeric ? "categorical" : p.kind == ParamKind::kInt ? "int" : "float";
    j["log"] = p.kind == ParamKind::kLogUniform || (p.kind == ParamKind::kInt && p.log);
    j["low"] = numeric ? Json(p.low) : Json(nullptr);
    j["high"] = numeric ? Json(p.high) : Json(nullptr);
    j["choices"] = numeric ? Json::array() : Json(p.choices);
    params.push_back(j);
  }
  return params;
}

// The epochs at which the study's pruner decides.
std::vector<int> PrunerRungs(const StudySpec& spec) {
  const PrunerSpec& p = spec.pruner;
  std::vector<int> rungs;
  if (p.type == PrunerType::kMedian) {
    for (int e = std::max(1, p.min_epochs); e < spec.budget.epochs; ++e) rungs.push_back(e);
  } else if (p.type == PrunerType::kAsha || p.type == PrunerType::kHyperband) {
    rungs = AshaRungs(p.min_epochs, p.reduction, spec.budget.epochs);
  }
  return rungs;
}

// The confusion matrix of a trial's validation predictions, or null without them.
Json ConfusionJson(const StudyRecord& study, const std::vector<ArtifactRecord>& artifacts) {
  std::string probs_path, index_path;
  for (const auto& a : artifacts) {
    if (a.kind == "val_probs") probs_path = a.path;
    if (a.kind == "val_index") index_path = a.path;
  }
  if (probs_path.empty() || index_path.empty()) return nullptr;
  try {
    const Matrix probs = ReadNpy(probs_path);
    const CsvTable index = ReadCsv(index_path);
    const size_t label_col = index.Column("label");
    if (static_cast<int64_t>(index.rows.size()) != probs.rows || probs.cols <= 0) return nullptr;
    const int64_t classes = probs.cols;
    std::vector<std::vector<int64_t>> matrix(classes, std::vector<int64_t>(classes, 0));
    for (int64_t r = 0; r < probs.rows; ++r) {
      const int label = std::stoi(index.rows[r][label_col]);
      if (label < 0 || label >= classes) return nullptr;
      int64_t predicted = 0;
      for (int64_t c = 1; c < classes; ++c) {
        if (probs.at(r, c) > probs.at(r, predicted)) predicted = c;
      }
      ++matrix[label][predicted];
    }
    std::vector<std::string> labels;
    const auto spec = SpecOf(study);
    try {
      if (spec && !spec->data.train.empty()) labels = ListClassNames(spec->data);
    } catch (const std::exception&) {
      labels.clear();  // the data folder is gone: numbers instead of names
    }
    if (static_cast<int64_t>(labels.size()) != classes) {
      labels.clear();
      for (int64_t c = 0; c < classes; ++c) labels.push_back(std::to_string(c));
    }
    return Json{{"labels", labels}, {"matrix", matrix}};
  } catch (const std::exception&) {
    return nullptr;  // unreadable artifacts: no matrix rather than a failed page
  }
}

Store::TrialQuery TrialsQuery(const Request& request, const StudyRecord& study) {
  CheckQueryKeys(request, {"state", "sort", "order", "offset", "limit"}, true);
  Store::TrialQuery q;
  if (const auto states = QueryValue(request, "state")) {
    size_t from = 0;
    while (from <= states->size()) {
      const size_t comma = std::min(states->find(',', from), states->size());
      const std::string name = states->substr(from, comma - from);
      from = comma + 1;
      if (name.empty()) continue;
      try {
        q.states.push_back(ParseTrialState(name));
      } catch (const UserError&) {
        throw BadRequest("state=" + name +
                         ": expected QUEUED, RUNNING, COMPLETE, PRUNED, "
                         "FAILED or STALE");
      }
    }
  }
  const std::string sort = QueryValue(request, "sort").value_or("value");
  if (sort == "value" || sort == "number" || sort == "duration") {
    q.sort = sort;
  } else if (sort.rfind("param.", 0) == 0 && sort.size() > 6) {
    q.sort = "param:" + sort.substr(6);
  } else if (!sort.empty()) {
    q.sort = "metric:" + sort;
  } else {
    throw BadRequest("sort=: expected value, number, duration, a metric or param.<name>");
  }
  const auto order = QueryValue(request, "order");
  if (order && *order != "asc" && *order != "desc") {
    throw BadRequest("order=" + *order + ": expected asc or desc");
  }
  q.descending = order ? *order == "desc" : (sort == "value" && study.maximize);
  q.offset = ParseCount(QueryValue(request, "offset").value_or("0"), "offset", int64_t{1} << 40);
  const std::string limit = QueryValue(request, "limit").value_or("50");
  q.limit = limit == "all" ? -1 : ParseCount(limit, "limit", 1000);
  for (const auto& [key, value] : request.query) {
    if (key.rfind("param.", 0) == 0) q.param_equals.emplace_back(key.substr(6), value);
  }
  return q;
}

Json TrialsJson(const Store& store, const StudyRecord& study, const Request& request) {
  const Store::TrialQuery q = TrialsQuery(request, study);
  Store::TrialPage page;
  try {
    page = store.QueryTrials(study.id, q);
  } catch (const UserError& e) {
    throw BadRequest(e.what());
  }
  Json trials = Json::array();
  for (const auto& t : page.trials) trials.push_back(TrialJson(t));
  return Json{{"total", page.total},
              {"offset", q.offset},
              {"limit", q.limit < 0 ? Json("all") : Json(q.limit)},
              {"trials", trials}};
}

Json TrialDetailJson(const Store& store, const StudyRecord& study, const std::string& number_text) {
  const int64_t number = ParseCount(number_text, "trial number", int64_t{1} << 40);
  const auto trial = store.FindTrial(study.id, number);
  if (!trial) throw NotFound("study '" + study.name + "' has no trial " + number_text);
  Json j = TrialJson(*trial);
  Json epochs = Json::array();
  for (const auto& e : store.Epochs(trial->id)) {
    Json metrics = Json::object();
    for (const auto& [name, value] : e.metrics) metrics[name] = value;
    epochs.push_back(Json{{"epoch", e.epoch}, {"metrics", metrics}, {"at", e.at}});
  }
  j["epochs"] = epochs;
  const auto artifacts = store.Artifacts(trial->id);
  Json listed = Json::array();
  for (const auto& a : artifacts) {
    listed.push_back(Json{{"kind", a.kind}, {"path", a.path}, {"size_bytes", a.size_bytes}});
  }
  j["artifacts"] = listed;
  j["confusion"] = ConfusionJson(study, artifacts);
  return j;
}

// A number as JSON (17 significant digits: it reads back the same), or null.
void AppendNumber(std::string& out, double value, bool present) {
  if (!present || !std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  out += buffer;
}

// The history's JSON text, written directly: one short array per trial.
std::shared_ptr<const std::string> HistoryText(const Store& store, const StudyRecord& study,
                                               const Request& request) {
  CheckQueryKeys(request, {});
  const auto briefs = store.TrialBriefs(study.id);
  auto out = std::make_shared<std::string>();
  out->reserve(briefs.size() * 48 + 16);
  *out += "{\"trials\":[";
  for (size_t i = 0; i < briefs.size(); ++i) {
    const auto& b = briefs[i];
    *out += i == 0 ? "[" : ",[";
    *out += std::to_string(b.number);
    *out += ",\"";
    *out += TrialStateName(b.state);  // upper-case letters only: nothing to escape
    *out += "\",";
    AppendNumber(*out, b.value.value_or(0), b.value.has_value());
    *out += ',';
    AppendNumber(*out, b.finished_at, b.finished_at > 0);
    *out += ']';
  }
  *out += "]}";
  return out;
}

std::vector<int64_t> ParseNumbers(const std::string& text) {
  std::vector<int64_t> numbers;
  size_t from = 0;
  while (from <= text.size()) {
    const size_t comma = std::min(text.find(',', from), text.size());
    const std::string item = text.substr(from, comma - from);
    from = comma + 1;
    if (!item.empty()) numbers.push_back(ParseCount(item, "trials", int64_t{1} << 40));
  }
  if (numbers.empty() || numbers.size() > 1000) {
    throw BadRequest("trials=: expected 1 to 1000 comma-separated trial numbers");
  }
  return numbers;
}

Json CurvesJson(const Store& store, const StudyRecord& study, const Request& request) {
  CheckQueryKeys(request, {"trials"});
  std::vector<int64_t> numbers;
  if (const auto wanted = QueryValue(request, "trials")) numbers = ParseNumbers(*wanted);
  Json curves = Json::array();
  int64_t current = -1;
  for (const auto& p : store.MetricCurves(study.id, study.metric, numbers)) {
    if (p.number != current) {
      curves.push_back(Json{
          {"number", p.number}, {"state", TrialStateName(p.state)}, {"points", Json::array()}});
      current = p.number;
    }
    curves.back()["points"].push_back(Json::array({p.epoch, p.value}));
  }
  return Json{{"metric", study.metric}, {"curves", curves}};
}

Json EnsemblesJson(const Store& store, const StudyRecord& study, const Request& request) {
  CheckQueryKeys(request, {});
  Json best_single = nullptr;
  const auto top = store.TopTrials(study.id, study.maximize, 1);
  if (!top.empty()) {
    best_single = Json{{"number", top[0].number},
                       {"value", OptionalValue(top[0].value)},
                       {"metrics", top[0].metrics}};
  }
  Json ensembles = Json::array();
  for (const auto& e : store.Ensembles(study.id)) {
    Json members = Json::array();
    for (size_t i = 0; i < e.member_numbers.size(); ++i) {
      const auto trial = store.FindTrial(study.id, e.member_numbers[i]);
      members.push_back(Json{{"number", e.member_numbers[i]},
                             {"weight", i < e.weights.size() ? e.weights[i] : 0.0},
                             {"value", trial ? OptionalValue(trial->value) : Json(nullptr)}});
    }
    ensembles.push_back(Json{{"id", e.id},
                             {"method", e.method},
                             {"created_at", e.created_at},
                             {"members", members},
                             {"metrics", e.metrics},
                             {"best_single", best_single}});
  }
  return Json{{"ensembles", ensembles}};
}

// The state of the store's files: size and modification time of the database and its WAL. Every
// commit changes it (the WAL grows or, after a checkpoint, is rewritten; a checkpoint writes the
// database).
std::string StoreStamp(const std::string& path) {
  std::string stamp;
  for (const std::string& file : {path, path + "-wal"}) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      stamp += "-;";
      continue;
    }
    stamp += std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  // The WAL index's header (its change counter and last frame move with every commit), for two
  // commits within one tick of the file system's clock.
  if (std::FILE* shm = std::fopen((path + "-shm").c_str(), "rb")) {
    unsigned char header[48] = {};
    const size_t n = std::fread(header, 1, sizeof(header), shm);
    std::fclose(shm);
    static const char* kHex = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
      stamp += kHex[header[i] >> 4];
      stamp += kHex[header[i] & 15];
    }
  }
  return stamp;
}

constexpr size_t kMaxCachedBytes = size_t{256} << 20;

}  // namespace

struct DashboardApi::Caches {
  std::mutex mutex;
  // Answers and study records for the store's files as `stamp` says (store path and stamp).
  std::string stamp;
  std::map<std::string, Text> texts;
  size_t text_bytes = 0;
  std::map<std::string, StudyRecord> studies;
  // Importance by store path and study name: the key it was computed for (spec hash and count of
  // COMPLETE trials; a COMPLETE trial never changes again) and the answer.
  std::map<std::string, std::pair<std::string, Json>> importance;
  // Importance computations under way (background mode), by the same key as `importance`.
  std::set<std::string> computing;
  std::condition_variable idle;  // notified as each computation's thread exits
};

DashboardApi::DashboardApi(bool background_importance)
    : background_importance_(background_importance), caches_(std::make_unique<Caches>()) {}

DashboardApi::~DashboardApi() {
  std::unique_lock<std::mutex> lock(caches_->mutex);
  caches_->idle.wait(lock, [&] { return caches_->computing.empty(); });
}

namespace {

// The importance key of a study: a COMPLETE trial never changes again, so the spec and the count
// of COMPLETE trials say which trials the importance is computed from.
std::string ImportanceKey(const StudyRecord& study) {
  return study.spec_hash + ":" + std::to_string(study.complete_count);
}

Json ComputeImportanceJson(const Store& store, const StudyRecord& study) {
  Json result = Json{{"method", "fanova"}, {"trials_used", 0}, {"importances", Json::array()}};
  if (const auto spec = SpecOf(study); spec && study.complete_count >= 2) {
    result = ImportanceToJson(ComputeImportance(*spec, store.TopTrials(study.id, true, 0)));
  }
  return result;
}

}  // namespace

Json DashboardApi::Importance(const Store& store, const StudyRecord& study) {
  const std::string cache_key = store.path() + '\n' + study.name;
  const std::string key = ImportanceKey(study);
  {
    const std::lock_guard<std::mutex> lock(caches_->mutex);
    const auto it = caches_->importance.find(cache_key);
    const bool cached = it != caches_->importance.end();
    if (cached && it->second.first == key) return it->second.second;
    if (background_importance_) {
      if (caches_->computing.insert(cache_key).second) {
        // The thread reads the store through a connection of its own and the study as it is
        // then; a later request starts again when more trials have completed since.
        const std::string path = store.path(), name = study.name;
        std::thread([this, path, name, cache_key] {
          // Below the requests' threads: the pages answer first on a busy machine.
          ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
          std::pair<std::string, Json> done;
          try {
            const auto own = Store::OpenReadOnly(path);
            const auto fresh = own->FindStudy(name);
            if (fresh) done = {ImportanceKey(*fresh), ComputeImportanceJson(*own, *fresh)};
          } catch (const std::exception& e) {
            done = {"", Json{{"method", "fanova"},
                             {"trials_used", 0},
                             {"importances", Json::array()},
                             {"error", e.what()}}};
          }
          std::unique_lock<std::mutex> lock(caches_->mutex);
          if (!done.second.is_null()) caches_->importance[cache_key] = done;
          caches_->computing.erase(cache_key);
          // The destructor waits for `computing` to empty; it wakes once this thread is gone.
          std::notify_all_at_thread_exit(caches_->idle, std::move(lock));
        }).detach();
      }
      Json pending =
          cached ? it->second.second
                 : Json{{"method", "fanova"}, {"trials_used", 0}, {"importances", Json::array()}};
      pending["pending"] = true;
      return pending;
    }
  }
  Json result = ComputeImportanceJson(store, study);
  const std::lock_guard<std::mutex> lock(caches_->mutex);
  caches_->importance[cache_key] = {key, result};
  return result;
}

void DashboardApi::Warm(const Store& store) {
  if (!background_importance_) return;
  const auto studies = store.ListStudies();
  for (const auto& study : studies) Importance(store, study);
  // The other answers of a study page's first paint, as app.js asks for them (studies, study,
  // history, the leaderboard's first page, the parallel coordinates' trials), kept as text.
  std::vector<std::string> paths = {"/api/studies"};
  for (const auto& study : studies) {
    const std::string base = "/api/studies/" + UrlEncode(study.name);
    for (const char* tail : {"", "/history", "/trials?sort=value&offset=0&limit=50",
                             "/trials?state=COMPLETE&sort=value&offset=0&limit=1000"}) {
      paths.push_back(base + tail);
    }
  }
  const std::string warming = "\nwarming";  // in `computing`, so that the destructor waits
  {
    const std::lock_guard<std::mutex> lock(caches_->mutex);
    if (!caches_->computing.insert(warming).second) return;
  }
  std::thread([this, path = store.path(), paths, warming] {
    try {
      const auto own = Store::OpenReadOnly(path);
      for (const auto& target : paths) HandleText(*own, "GET", target);
    } catch (const std::exception&) {
      // Only a head start: the requests compute what is missing.
    }
    std::unique_lock<std::mutex> lock(caches_->mutex);
    caches_->computing.erase(warming);
    std::notify_all_at_thread_exit(caches_->idle, std::move(lock));
  }).detach();
}

Json DashboardApi::StudySummary(const Store& store, const StudyRecord& study, double now) const {
  const Store::StudyActivity a = store.Activity(study.id);
  auto count = [&](const char* state) {
    const auto it = a.counts.find(state);
    return it == a.counts.end() ? int64_t{0} : it->second;
  };
  Json counts;
  int64_t total = 0;
  for (const char* state : {"COMPLETE", "PRUNED", "FAILED", "RUNNING", "QUEUED", "STALE"}) {
    std::string key = state;
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    counts[key] = count(state);
    total += count(state);
  }
  Json j;
  j["name"] = study.name;
  j["metric"] = study.metric;
  j["direction"] = study.maximize ? "maximize" : "minimize";
  const auto budget = study.spec.find("budget");
  const bool planned = budget != study.spec.end() && budget->is_object() &&
                       budget->contains("trials") && (*budget)["trials"].is_number_integer();
  j["planned"] = planned ? (*budget)["trials"] : Json(nullptr);
  j["counts"] = counts;
  j["total"] = total;
  const auto top = store.TopTrials(study.id, study.maximize, 1);
  j["best"] = top.empty() ? Json(nullptr)
                          : Json{{"number", top[0].number}, {"value", OptionalValue(top[0].value)}};
  j["created_at"] = study.created_at;
  j["updated_at"] = a.last_event_at > 0 ? a.last_event_at : study.created_at;
  const int64_t running = count("RUNNING");
  const double end = running > 0 ? now : a.last_event_at;
  j["elapsed_seconds"] = a.first_started_at > 0 ? std::max(0.0, end - a.first_started_at) : 0.0;
  const int64_t finished = count("COMPLETE") + count("PRUNED") + count("FAILED");
  Json eta = nullptr;
  if (planned) {
    const int64_t remaining = (*budget)["trials"].get<int64_t>() - finished;
    if (remaining <= 0) {
      eta = 0.0;
    } else if (running > 0 && a.finished_timed > 0) {
      // Mean duration of a finished trial, times the trials left, over the trials seen running
      // at once.
      const double mean = a.finished_seconds / static_cast<double>(a.finished_timed);
      eta = mean * static_cast<double>(remaining) / static_cast<double>(running);
    }
  }
  j["eta_seconds"] = eta;
  char revision[96];
  std::snprintf(revision, sizeof(revision), "%lld-%lld-%lld-%.6f-%lld",
                static_cast<long long>(total), static_cast<long long>(finished),
                static_cast<long long>(running), a.last_event_at,
                static_cast<long long>(a.epochs_recorded));
  j["revision"] = revision;
  return j;
}

namespace {

Json StudyDetailJson(const DashboardApi& api, const Store& store, const StudyRecord& study,
                     double now) {
  Json j = api.StudySummary(store, study, now);
  j["spec"] = study.spec;
  const auto spec = SpecOf(study);
  j["params"] = spec ? SpaceJson(*spec) : Json::array();
  j["metrics"] = store.MetricNames(study.id);
  j["rungs"] = spec ? Json(PrunerRungs(*spec)) : Json::array();
  j["artifacts_bytes"] = store.ArtifactBytes(study.id);
  return j;
}

}  // namespace

StudyRecord DashboardApi::FindStudyCached(const Store& store, const std::string& name) {
  const std::string stamp = store.path() + "\n" + StoreStamp(store.path());
  {
    const std::lock_guard<std::mutex> lock(caches_->mutex);
    if (caches_->stamp == stamp) {
      const auto it = caches_->studies.find(name);
      if (it != caches_->studies.end()) return it->second;
    }
  }
  const StudyRecord study = FindStudyOr404(store, name);
  const std::lock_guard<std::mutex> lock(caches_->mutex);
  if (caches_->stamp != stamp) {  // the store changed (or Handle's first call): a fresh cache
    caches_->stamp = stamp;
    caches_->texts.clear();
    caches_->studies.clear();
    caches_->text_bytes = 0;
  }
  caches_->studies[name] = study;
  return study;
}

ApiResponse DashboardApi::Handle(const Store& store, const std::string& method,
                                 const std::string& target) {
  ApiResponse answer = Answer(store, method, target);
  if (answer.text) {
    answer.body = Json::parse(*answer.text);
    answer.text.reset();
  }
  return answer;
}

DashboardApi::Text DashboardApi::HandleText(const Store& store, const std::string& method,
                                            const std::string& target) {
  const std::string stamp = store.path() + "\n" + StoreStamp(store.path());
  {
    const std::lock_guard<std::mutex> lock(caches_->mutex);
    if (caches_->stamp != stamp) {
      caches_->stamp = stamp;
      caches_->texts.clear();
      caches_->studies.clear();
      caches_->text_bytes = 0;
    }
    const auto it = caches_->texts.find(target);
    if (it != caches_->texts.end() && (method == "GET" || method == "HEAD")) return it->second;
  }
  const ApiResponse answer = Answer(store, method, target);
  const bool keep = answer.status != 500 && (method == "GET" || method == "HEAD") &&
                    !(answer.body.is_object() && answer.body.contains("pending"));
  Text text{answer.status, answer.text ? answer.text
                                       : std::make_shared<const std::string>(answer.body.dump(
                                             -1, ' ', false, Json::error_handler_t::replace))};
  if (!keep) return text;  // a failure is not kept: the next request tries again
  const std::lock_guard<std::mutex> lock(caches_->mutex);
  if (caches_->stamp == stamp && caches_->text_bytes + text.body->size() <= kMaxCachedBytes) {
    caches_->text_bytes += text.body->size();
    caches_->texts[target] = text;
  }
  return text;
}

// Long: the route table of the API, one branch per documented path, kept together so that the
// paths read as the contract lists them.
ApiResponse DashboardApi::Answer(const Store& store, const std::string& method,
                                 const std::string& target) {
  try {
    if (method != "GET" && method != "HEAD") throw HttpError(405, "only GET is served");
    const Request request = ParseTarget(target);
    const auto& s = request.segments;
    const double now = NowSeconds();
    if (s.size() == 1 && s[0] == "studies") {
      CheckQueryKeys(request, {});
      Json studies = Json::array();
      for (const auto& study : store.ListStudies())
        studies.push_back(StudySummary(store, study, now));
      return {200, Json{{"studies", studies}}};
    }
    if (s.size() < 2 || s[0] != "studies") throw NotFound("no such path: " + target);
    const StudyRecord study = FindStudyCached(store, s[1]);
    if (s.size() == 2) {
      CheckQueryKeys(request, {});
      return {200, StudyDetailJson(*this, store, study, now)};
    }
    const std::string& what = s[2];
    if (s.size() == 4 && what == "trials") {
      CheckQueryKeys(request, {});
      return {200, TrialDetailJson(store, study, s[3])};
    }
    if (s.size() != 3) throw NotFound("no such path: " + target);
    if (what == "trials") return {200, TrialsJson(store, study, request)};
    if (what == "history") return {200, nullptr, HistoryText(store, study, request)};
    if (what == "curves") return {200, CurvesJson(store, study, request)};
    if (what == "ensembles") return {200, EnsemblesJson(store, study, request)};
    if (what == "importance") {
      CheckQueryKeys(request, {});
      return {200, Importance(store, study)};
    }
    throw NotFound("no such path: " + target);
  } catch (const HttpError& e) {
    return {e.status, Json{{"error", e.what()}}};
  } catch (const UserError& e) {
    return {400, Json{{"error", e.what()}}};
  } catch (const std::exception& e) {
    return {500, Json{{"error", e.what()}}};
  }
}

ApiResponse HandleApi(const Store& store, const std::string& method, const std::string& target) {
  DashboardApi api;
  return api.Handle(store, method, target);
}

std::optional<std::string> UrlDecode(const std::string& text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const std::string hex = text.substr(i + 1, 2);
      if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
          !std::isxdigit(static_cast<unsigned char>(hex[1]))) {
        return std::nullopt;
      }
      const char decoded = static_cast<char>(std::stoi(hex, nullptr, 16));
      if (decoded == '\0') return std::nullopt;
      out += decoded;
      i += 2;
    } else {
      out += plus_is_space && c == '+' ? ' ' : c;
    }
  }
  return out;
}

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) ||
        std::string("-_.!~*'()").find(static_cast<char>(c)) != std::string::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace ensweep
