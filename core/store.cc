#include "core/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/rng.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  metric TEXT NOT NULL,
  direction TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  seed TEXT NOT NULL,
  value REAL,
  metrics TEXT NOT NULL DEFAULT '{}',
  epochs_done INTEGER NOT NULL DEFAULT 0,
  worker TEXT NOT NULL DEFAULT '',
  queued_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  error TEXT NOT NULL DEFAULT '',
  retries INTEGER NOT NULL DEFAULT 0,
  UNIQUE (study_id, number));
CREATE INDEX IF NOT EXISTS trials_by_value ON trials (study_id, state, value);
CREATE TABLE IF NOT EXISTS epoch_metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  epoch INTEGER NOT NULL,
  name TEXT NOT NULL,
  value REAL,
  at REAL NOT NULL,
  PRIMARY KEY (trial_id, epoch, name));
CREATE TABLE IF NOT EXISTS artifacts (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  checksum TEXT NOT NULL,
  PRIMARY KEY (trial_id, kind));
CREATE TABLE IF NOT EXISTS workers (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  device TEXT NOT NULL,
  connected_at REAL NOT NULL,
  gone_at REAL,
  gone_reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS ensembles (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  method TEXT NOT NULL,
  settings TEXT NOT NULL,
  metrics TEXT NOT NULL,
  submission_path TEXT NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ensemble_members (
  ensemble_id INTEGER NOT NULL REFERENCES ensembles(id),
  position INTEGER NOT NULL,
  trial_number INTEGER NOT NULL,
  weight REAL NOT NULL,
  PRIMARY KEY (ensemble_id, position));
)SQL";

std::string HashHex(const std::string& text) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(StableHash(text)));
  return hex;
}

// Seeds are full 64-bit unsigned values; SQLite integers are signed, so they are stored as text.
std::string SeedText(uint64_t seed) { return std::to_string(seed); }

Json ParseJsonColumn(const SQLite::Column& column) {
  const std::string text = column.getString();
  return text.empty() ? Json::object() : Json::parse(text);
}

}  // namespace

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Store::Impl {
  std::string path;
  SQLite::Database db;
  // The writer's statements, prepared once and reused (a sweep runs the same few per trial).
  // Declared after `db` so that they are finalised before it closes.
  std::map<std::string, std::unique_ptr<SQLite::Statement>> statements;
  Impl(const std::string& p, int flags) : path(p), db(p, flags) {}

  // The prepared statement for `sql`, reset and with no bindings.
  SQLite::Statement& Prepared(const std::string& sql) {
    auto& statement = statements[sql];
    if (!statement) {
      statement = std::make_unique<SQLite::Statement>(db, sql);
    } else {
      statement->tryReset();  // a failed last use must not throw here
      statement->clearBindings();
    }
    return *statement;
  }
};

namespace {

// A transaction for one write method: BEGIN/COMMIT of its own, or nothing inside a Batch (whose
// commit then covers it). Rolls back if destroyed uncommitted, as SQLite::Transaction does.
class WriteTransaction {
 public:
  explicit WriteTransaction(SQLite::Database& db) : db_(db) {
    if (sqlite3_get_autocommit(db_.getHandle()) != 0) {
      db_.exec("BEGIN");
      own_ = true;
    }
  }
  ~WriteTransaction() {
    if (own_ && !committed_) db_.tryExec("ROLLBACK");
  }
  void commit() {
    if (own_) db_.exec("COMMIT");
    committed_ = true;
  }

 private:
  SQLite::Database& db_;
  bool own_ = false;
  bool committed_ = false;
};

}  // namespace

Store::Batch::Batch(Store& store) : store_(store) {
  if (sqlite3_get_autocommit(store_.impl_->db.getHandle()) != 0) {
    // IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before anything is
    // read, so a batch that reads and then writes never fails because another process (another
    // study's coordinator on the same store) committed in between.
    store_.impl_->db.exec("BEGIN IMMEDIATE");
    outermost_ = true;
  }
}

Store::Batch::~Batch() {
  if (!outermost_) return;
  // Commit what the batch wrote even when leaving by an exception: completed trials are kept.
  if (store_.impl_->db.tryExec("COMMIT") != SQLITE_OK) store_.impl_->db.tryExec("ROLLBACK");
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;
const std::string& Store::path() const { return impl_->path; }

std::unique_ptr<Store> Store::OpenForWriting(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) fs::create_directories(parent, error);
  if (error) {
    throw UserError(path + ": cannot create the store's folder " + parent.string() + ": " +
                    error.message());
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    impl->db.setBusyTimeout(10000);
    impl->db.exec("PRAGMA journal_mode=WAL");
    impl->db.exec("PRAGMA synchronous=NORMAL");
    impl->db.exec("PRAGMA foreign_keys=ON");
    SQLite::Transaction transaction(impl->db, SQLite::TransactionBehavior::IMMEDIATE);
    impl->db.exec(kSchema);
    SQLite::Statement version(impl->db, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (version.executeStep()) {
      const int found = std::stoi(version.getColumn(0).getString());
      if (found > kSchemaVersion) {
        throw UserError(path + ": store schema version " + std::to_string(found) +
                        " is newer than this ensweep supports (" + std::to_string(kSchemaVersion) +
                        "); upgrade ensweep");
      }
      // Migrations from older versions go here, one step per version.
    }
    impl->db.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '" +
                  std::to_string(kSchemaVersion) + "')");
    transaction.commit();
  } catch (const SQLite::Exception& e) {
    throw UserError(path + ": cannot open as an ensweep store: " + e.what());
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

std::unique_ptr<Store> Store::OpenReadOnly(const std::string& path) {
  if (!fs::exists(path)) {
    throw UserError(path + ": no such store (has `ensweep run` been started for this study?)");
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(path, SQLite::OPEN_READONLY);
    impl->db.setBusyTimeout(10000);
    SQLite::Statement version(impl->db, "SELECT value FROM meta WHERE key = 'schema_version'");
    if (!version.executeStep())
      throw UserError(path + ": not an ensweep store (no schema version)");
    const int found = std::stoi(version.getColumn(0).getString());
    if (found > kSchemaVersion) {
      throw UserError(path + ": store schema version " + std::to_string(found) +
                      " is newer than this ensweep supports; upgrade ensweep");
    }
  } catch (const SQLite::Exception& e) {
    throw UserError(path + ": cannot open as an ensweep store: " + e.what());
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

std::optional<std::string> Store::Meta(const std::string& key) const {
  SQLite::Statement q(impl_->db, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void Store::SetMeta(const std::string& key, const std::string& value) {
  SQLite::Statement q(impl_->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  q.bind(1, key);
  q.bind(2, value);
  q.exec();
}

int64_t Store::CreateOrUpdateStudy(const StudySpec& spec) {
  const std::string text = spec.ToJson().dump();
  const std::string hash = HashHex(text);
  const double now = NowSeconds();
  SQLite::Statement update(impl_->db,
                           "UPDATE studies SET spec = ?, spec_hash = ?, metric = ?, direction = ?, "
                           "updated_at = ? WHERE name = ? RETURNING id");
  update.bind(1, text);
  update.bind(2, hash);
  update.bind(3, spec.objective.metric);
  update.bind(4, spec.objective.maximize ? "maximize" : "minimize");
  update.bind(5, now);
  update.bind(6, spec.name);
  if (update.executeStep()) return update.getColumn(0).getInt64();
  SQLite::Statement insert(impl_->db,
                           "INSERT INTO studies (name, spec, spec_hash, metric, direction, "
                           "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, spec.name);
  insert.bind(2, text);
  insert.bind(3, hash);
  insert.bind(4, spec.objective.metric);
  insert.bind(5, spec.objective.maximize ? "maximize" : "minimize");
  insert.bind(6, now);
  insert.bind(7, now);
  insert.exec();
  return impl_->db.getLastInsertRowid();
}

namespace {

constexpr const char* kStudySelect =
    "SELECT s.id, s.name, s.spec, s.spec_hash, s.created_at, s.metric, s.direction, "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id), "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'COMPLETE'), "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'RUNNING'), "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'FAILED'), "
    "CASE s.direction WHEN 'maximize' THEN "
    "(SELECT MAX(value) FROM trials t WHERE t.study_id = s.id AND t.state = 'COMPLETE') ELSE "
    "(SELECT MIN(value) FROM trials t WHERE t.study_id = s.id AND t.state = 'COMPLETE') END, "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'PRUNED'), "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'STALE'), "
    "(SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id AND t.state = 'QUEUED') "
    "FROM studies s ";

StudyRecord ReadStudy(SQLite::Statement& q) {
  StudyRecord r;
  r.id = q.getColumn(0).getInt64();
  r.name = q.getColumn(1).getString();
  r.spec = ParseJsonColumn(q.getColumn(2));
  r.spec_hash = q.getColumn(3).getString();
  r.created_at = q.getColumn(4).getDouble();
  r.metric = q.getColumn(5).getString();
  r.maximize = q.getColumn(6).getString() == "maximize";
  r.trial_count = q.getColumn(7).getInt64();
  r.complete_count = q.getColumn(8).getInt64();
  r.running_count = q.getColumn(9).getInt64();
  r.failed_count = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) r.best_value = q.getColumn(11).getDouble();
  r.pruned_count = q.getColumn(12).getInt64();
  r.stale_count = q.getColumn(13).getInt64();
  r.queued_count = q.getColumn(14).getInt64();
  return r;
}

constexpr const char* kTrialSelect =
    "SELECT id, study_id, number, state, params, seed, value, metrics, epochs_done, worker, "
    "queued_at, started_at, finished_at, error, retries FROM trials ";

TrialRecord ReadTrial(SQLite::Statement& q) {
  TrialRecord t;
  t.id = q.getColumn(0).getInt64();
  t.study_id = q.getColumn(1).getInt64();
  t.number = q.getColumn(2).getInt64();
  t.state = ParseTrialState(q.getColumn(3).getString());
  t.params = ParseJsonColumn(q.getColumn(4));
  t.seed = std::stoull(q.getColumn(5).getString());
  if (!q.getColumn(6).isNull()) t.value = q.getColumn(6).getDouble();
  t.metrics = ParseJsonColumn(q.getColumn(7));
  t.epochs_done = q.getColumn(8).getInt();
  t.worker = q.getColumn(9).getString();
  t.queued_at = q.getColumn(10).getDouble();
  t.started_at = q.getColumn(11).isNull() ? 0 : q.getColumn(11).getDouble();
  t.finished_at = q.getColumn(12).isNull() ? 0 : q.getColumn(12).getDouble();
  t.error = q.getColumn(13).getString();
  t.retries = q.getColumn(14).getInt();
  return t;
}

Json MetricsJson(const MetricMap& metrics) {
  Json j = Json::object();
  for (const auto& [name, value] : metrics) j[name] = value;
  return j;
}

}  // namespace

std::optional<StudyRecord> Store::FindStudy(const std::string& name) const {
  SQLite::Statement q(impl_->db, std::string(kStudySelect) + "WHERE s.name = ?");
  q.bind(1, name);
  if (!q.executeStep()) return std::nullopt;
  return ReadStudy(q);
}

std::vector<StudyRecord> Store::ListStudies() const {
  SQLite::Statement q(impl_->db, std::string(kStudySelect) + "ORDER BY s.id");
  std::vector<StudyRecord> result;
  while (q.executeStep()) result.push_back(ReadStudy(q));
  return result;
}

int64_t Store::AddTrial(int64_t study_id, int64_t number, TrialState state, const Json& params,
                        uint64_t seed) {
  SQLite::Statement& q = impl_->Prepared(
      "INSERT INTO trials (study_id, number, state, params, seed, queued_at) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  q.bind(1, study_id);
  q.bind(2, number);
  q.bind(3, TrialStateName(state));
  q.bind(4, params.dump());
  q.bind(5, SeedText(seed));
  q.bind(6, NowSeconds());
  q.exec();
  return impl_->db.getLastInsertRowid();
}

void Store::MarkRunning(int64_t trial_id, const std::string& worker, const Json& params) {
  SQLite::Statement& q = impl_->Prepared(
      "UPDATE trials SET state = 'RUNNING', worker = ?, params = ?, started_at = ? "
      "WHERE id = ?");
  q.bind(1, worker);
  q.bind(2, params.dump());
  q.bind(3, NowSeconds());
  q.bind(4, trial_id);
  q.exec();
}

void Store::RecordEpoch(int64_t trial_id, int epoch, const MetricMap& metrics) {
  WriteTransaction transaction(impl_->db);
  SQLite::Statement& q = impl_->Prepared(
      "INSERT OR REPLACE INTO epoch_metrics (trial_id, epoch, name, value, at) "
      "VALUES (?, ?, ?, ?, ?)");
  const double now = NowSeconds();
  for (const auto& [name, value] : metrics) {
    q.bind(1, trial_id);
    q.bind(2, epoch);
    q.bind(3, name);
    q.bind(4, value);
    q.bind(5, now);
    q.exec();
    q.reset();
  }
  SQLite::Statement& progress = impl_->Prepared("UPDATE trials SET epochs_done = ? WHERE id = ?");
  progress.bind(1, epoch);
  progress.bind(2, trial_id);
  progress.exec();
  transaction.commit();
}

void Store::MarkComplete(int64_t trial_id, std::optional<double> value, const MetricMap& metrics,
                         const std::vector<ArtifactRecord>& artifacts, int epochs_done) {
  MarkEnded(trial_id, "COMPLETE", value, metrics, artifacts, epochs_done);
}

void Store::MarkPruned(int64_t trial_id, std::optional<double> value, const MetricMap& metrics,
                       const std::vector<ArtifactRecord>& artifacts, int epochs_done) {
  MarkEnded(trial_id, "PRUNED", value, metrics, artifacts, epochs_done);
}

void Store::MarkEnded(int64_t trial_id, const char* state, std::optional<double> value,
                      const MetricMap& metrics, const std::vector<ArtifactRecord>& artifacts,
                      int epochs_done) {
  WriteTransaction transaction(impl_->db);
  SQLite::Statement& q =
      impl_->Prepared(std::string("UPDATE trials SET state = '") + state +
                      "', value = ?, metrics = ?, epochs_done = ?, finished_at = ?, error = '' "
                      "WHERE id = ?");
  if (value) {
    q.bind(1, *value);
  } else {
    q.bind(1);
  }
  q.bind(2, MetricsJson(metrics).dump());
  q.bind(3, epochs_done);
  q.bind(4, NowSeconds());
  q.bind(5, trial_id);
  q.exec();
  SQLite::Statement& a = impl_->Prepared(
      "INSERT OR REPLACE INTO artifacts (trial_id, kind, path, size_bytes, checksum) "
      "VALUES (?, ?, ?, ?, ?)");
  for (const auto& artifact : artifacts) {
    a.bind(1, trial_id);
    a.bind(2, artifact.kind);
    a.bind(3, artifact.path);
    a.bind(4, artifact.size_bytes);
    a.bind(5, artifact.checksum);
    a.exec();
    a.reset();
  }
  transaction.commit();
}

void Store::MarkFailed(int64_t trial_id, const std::string& error, int epochs_done) {
  SQLite::Statement& q = impl_->Prepared(
      "UPDATE trials SET state = 'FAILED', error = ?, epochs_done = MAX(epochs_done, ?), "
      "finished_at = ? WHERE id = ?");
  q.bind(1, error);
  q.bind(2, epochs_done);
  q.bind(3, NowSeconds());
  q.bind(4, trial_id);
  q.exec();
}

void Store::MarkStale(int64_t trial_id, const std::string& reason) {
  SQLite::Statement& q =
      impl_->Prepared("UPDATE trials SET state = 'STALE', error = ? WHERE id = ?");
  q.bind(1, reason);
  q.bind(2, trial_id);
  q.exec();
}

int Store::MarkAllRunningStale(int64_t study_id, const std::string& reason) {
  SQLite::Statement q(impl_->db,
                      "UPDATE trials SET state = 'STALE', error = ? "
                      "WHERE study_id = ? AND state = 'RUNNING'");
  q.bind(1, reason);
  q.bind(2, study_id);
  return q.exec();
}

void Store::ClearEpochs(int64_t trial_id) {
  SQLite::Statement& clear = impl_->Prepared("DELETE FROM epoch_metrics WHERE trial_id = ?");
  clear.bind(1, trial_id);
  clear.exec();
}

void Store::MarkRetried(int64_t trial_id, const std::string& worker) {
  WriteTransaction transaction(impl_->db);
  ClearEpochs(trial_id);  // the lost attempt's epochs would mix with the new attempt's
  SQLite::Statement& q = impl_->Prepared(
      "UPDATE trials SET state = 'RUNNING', worker = ?, retries = retries + 1, "
      "started_at = ?, epochs_done = 0 WHERE id = ?");
  q.bind(1, worker);
  q.bind(2, NowSeconds());
  q.bind(3, trial_id);
  q.exec();
  transaction.commit();
}

void Store::MarkInterrupted(int64_t trial_id, const std::string& reason) {
  WriteTransaction transaction(impl_->db);
  ClearEpochs(trial_id);
  SQLite::Statement& q = impl_->Prepared(
      "UPDATE trials SET state = 'QUEUED', error = ?, worker = '', started_at = NULL, "
      "epochs_done = 0 WHERE id = ?");
  q.bind(1, reason);
  q.bind(2, trial_id);
  q.exec();
  transaction.commit();
}

std::vector<TrialRecord> Store::Trials(int64_t study_id) const {
  SQLite::Statement q(impl_->db, std::string(kTrialSelect) + "WHERE study_id = ? ORDER BY number");
  q.bind(1, study_id);
  std::vector<TrialRecord> result;
  while (q.executeStep()) result.push_back(ReadTrial(q));
  return result;
}

std::optional<TrialRecord> Store::FindTrial(int64_t study_id, int64_t number) const {
  SQLite::Statement q(impl_->db, std::string(kTrialSelect) + "WHERE study_id = ? AND number = ?");
  q.bind(1, study_id);
  q.bind(2, number);
  if (!q.executeStep()) return std::nullopt;
  return ReadTrial(q);
}

std::vector<TrialRecord> Store::TopTrials(int64_t study_id, bool maximize, int limit) const {
  // Served by the (study_id, state, value) index: no full scan even at 100,000 trials.
  std::string sql =
      std::string(kTrialSelect) +
      "WHERE study_id = ? AND state = 'COMPLETE' AND value IS NOT NULL ORDER BY value " +
      (maximize ? "DESC" : "ASC") + ", number ASC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  SQLite::Statement q(impl_->db, sql);
  q.bind(1, study_id);
  std::vector<TrialRecord> result;
  while (q.executeStep()) result.push_back(ReadTrial(q));
  return result;
}

std::vector<EpochRecord> Store::Epochs(int64_t trial_id) const {
  SQLite::Statement q(impl_->db,
                      "SELECT epoch, name, value, at FROM epoch_metrics WHERE trial_id = ? "
                      "ORDER BY epoch, name");
  q.bind(1, trial_id);
  std::vector<EpochRecord> result;
  while (q.executeStep()) {
    const int epoch = q.getColumn(0).getInt();
    if (result.empty() || result.back().epoch != epoch) result.push_back(EpochRecord{epoch, {}, 0});
    result.back().metrics[q.getColumn(1).getString()] = q.getColumn(2).getDouble();
    result.back().at = q.getColumn(3).getDouble();
  }
  return result;
}

std::vector<ArtifactRecord> Store::Artifacts(int64_t trial_id) const {
  SQLite::Statement q(impl_->db,
                      "SELECT kind, path, size_bytes, checksum FROM artifacts WHERE trial_id = ? "
                      "ORDER BY kind");
  q.bind(1, trial_id);
  std::vector<ArtifactRecord> result;
  while (q.executeStep()) {
    result.push_back(ArtifactRecord{q.getColumn(0).getString(), q.getColumn(1).getString(),
                                    q.getColumn(2).getInt64(), q.getColumn(3).getString()});
  }
  return result;
}

int64_t Store::RegisterWorker(int64_t study_id, const std::string& name, const std::string& host,
                              int64_t pid, const std::string& device) {
  SQLite::Statement q(impl_->db,
                      "INSERT INTO workers (study_id, name, host, pid, device, connected_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)");
  q.bind(1, study_id);
  q.bind(2, name);
  q.bind(3, host);
  q.bind(4, pid);
  q.bind(5, device);
  q.bind(6, NowSeconds());
  q.exec();
  return impl_->db.getLastInsertRowid();
}

void Store::MarkWorkerGone(int64_t worker_id, const std::string& reason) {
  SQLite::Statement q(impl_->db, "UPDATE workers SET gone_at = ?, gone_reason = ? WHERE id = ?");
  q.bind(1, NowSeconds());
  q.bind(2, reason);
  q.bind(3, worker_id);
  q.exec();
}

int64_t Store::AddEnsemble(const EnsembleRecord& record) {
  WriteTransaction transaction(impl_->db);
  SQLite::Statement q(
      impl_->db,
      "INSERT INTO ensembles (study_id, method, settings, metrics, submission_path, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  q.bind(1, record.study_id);
  q.bind(2, record.method);
  q.bind(3, record.settings.dump());
  q.bind(4, record.metrics.dump());
  q.bind(5, record.submission_path);
  q.bind(6, NowSeconds());
  q.exec();
  const int64_t id = impl_->db.getLastInsertRowid();
  SQLite::Statement m(impl_->db,
                      "INSERT INTO ensemble_members (ensemble_id, position, trial_number, weight) "
                      "VALUES (?, ?, ?, ?)");
  for (size_t i = 0; i < record.member_numbers.size(); ++i) {
    m.bind(1, id);
    m.bind(2, static_cast<int64_t>(i));
    m.bind(3, record.member_numbers[i]);
    m.bind(4, i < record.weights.size() ? record.weights[i] : 0.0);
    m.exec();
    m.reset();
  }
  transaction.commit();
  return id;
}

std::vector<EnsembleRecord> Store::Ensembles(int64_t study_id) const {
  SQLite::Statement q(impl_->db,
                      "SELECT id, method, settings, metrics, submission_path, created_at "
                      "FROM ensembles WHERE study_id = ? ORDER BY id");
  q.bind(1, study_id);
  std::vector<EnsembleRecord> result;
  while (q.executeStep()) {
    EnsembleRecord r;
    r.id = q.getColumn(0).getInt64();
    r.study_id = study_id;
    r.method = q.getColumn(1).getString();
    r.settings = ParseJsonColumn(q.getColumn(2));
    r.metrics = ParseJsonColumn(q.getColumn(3));
    r.submission_path = q.getColumn(4).getString();
    r.created_at = q.getColumn(5).getDouble();
    result.push_back(r);
  }
  for (auto& r : result) {
    SQLite::Statement m(impl_->db,
                        "SELECT trial_number, weight FROM ensemble_members WHERE ensemble_id = ? "
                        "ORDER BY position");
    m.bind(1, r.id);
    while (m.executeStep()) {
      r.member_numbers.push_back(m.getColumn(0).getInt64());
      r.weights.push_back(m.getColumn(1).getDouble());
    }
  }
  return result;
}

}  // namespace ensweep
