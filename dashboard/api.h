// The dashboard's JSON API (docs/dashboard.md): pure functions of a read-only store.
//
// Every answer is JSON; an error is {"error": "text"} with status 400 (a malformed request: an
// unknown query key, a bad number, an unknown sort), 404 (no such study, trial or path), 405 (a
// method other than GET or HEAD) or 500 (the store failed). Nothing here writes: the store may be
// opened read-only (Store::OpenReadOnly) while a coordinator writes it.
//
// Cost on a 100,000-trial study: a leaderboard page, the studies list and the history are one or
// two SQL statements each (filtering, sorting and paging happen in SQLite); the importance is
// computed once per study revision of finished trials and then answered from a cache.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "core/store.h"

namespace ensweep {

struct ApiResponse {
  ApiResponse() = default;
  ApiResponse(int status, nlohmann::json body, std::shared_ptr<const std::string> text = nullptr)
      : status(status), body(std::move(body)), text(std::move(text)) {}
  int status = 200;
  nlohmann::json body;
  // Set instead of `body` by the answers written as text directly (the history of 100,000 trials:
  // nlohmann::json's objects would cost more than the query). Handle parses it into `body`.
  std::shared_ptr<const std::string> text;
};

// Answers API requests. Thread-safe: threads may share one DashboardApi, each calling Handle with
// its own Store (a Store is not thread-safe). It keeps the caches (importance per study and
// revision) that make repeated calls cheap.
class DashboardApi {
 public:
  // With `background_importance` (the server), a study's importance is computed in a thread of its
  // own: until it is done the answer is {"method": "fanova", "pending": true, "trials_used": 0,
  // "importances": []} (or, when trials completed since, the previous answer with "pending": true
  // added), and pending answers are not kept as text. Without (the report), the request computes
  // it. The destructor waits for the computations under way.
  explicit DashboardApi(bool background_importance = false);
  ~DashboardApi();

  // With background_importance only: starts the importance of every study of the store, and in
  // another thread the other answers of each study page's first paint (kept as text while the
  // store stays as it is), so that the first page of a study does not wait for them.
  void Warm(const Store& store);
  DashboardApi(const DashboardApi&) = delete;
  DashboardApi& operator=(const DashboardApi&) = delete;

  // `target` is the request target: an /api/... path with an optional ?query, URL-encoded.
  // Never throws: bad input is a 400 or 404, a store failure a 500.
  ApiResponse Handle(const Store& store, const std::string& method, const std::string& target);

  // Handle's answer as compact JSON text, for the server. Answers are kept while the store's files
  // (the database and its WAL: size and modification time) stay as they were, so that repeated
  // requests on an idle or finished study, and every poll between two commits of a running one,
  // cost two stat calls. (While trials run, elapsed_seconds and eta_seconds thus move with the
  // store's commits.)
  struct Text {
    int status = 200;
    std::shared_ptr<const std::string> body;
  };
  Text HandleText(const Store& store, const std::string& method, const std::string& target);

  // The study summary of /api/studies for `study` (the clock: `now`, Unix seconds).
  nlohmann::json StudySummary(const Store& store, const StudyRecord& study, double now) const;

 private:
  ApiResponse Answer(const Store& store, const std::string& method, const std::string& target);
  // FindStudy, kept while the store's files stay as they were (a lookup counts every state).
  StudyRecord FindStudyCached(const Store& store, const std::string& name);
  // The importance answer of `study`, from the cache, computed here, or pending (see above).
  nlohmann::json Importance(const Store& store, const StudyRecord& study);
  bool background_importance_ = false;
  struct Caches;
  std::unique_ptr<Caches> caches_;
};

// One request with a fresh DashboardApi (no caches kept between calls).
ApiResponse HandleApi(const Store& store, const std::string& method, const std::string& target);

// Percent-decoding of a URL component ('+' as a space when `plus_is_space`); nullopt for a bad
// escape or a decoded NUL byte.
std::optional<std::string> UrlDecode(const std::string& text, bool plus_is_space);
// Percent-encoding as JavaScript's encodeURIComponent: letters, digits and -_.!~*'() kept.
std::string UrlEncode(const std::string& text);

}  // namespace ensweep
