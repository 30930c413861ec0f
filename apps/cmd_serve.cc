// `ensweep serve`: the dashboard of a store over HTTP (dashboard/server.h), read-only, safe while
// a sweep writes the store.
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "core/store.h"
#include "core/study.h"
#include "dashboard/server.h"
#include "orchestrator/auth.h"
#include "orchestrator/tcp_transport.h"

namespace ensweep {
namespace {

struct ServeOptions {
  std::string study_file;
  std::string db;
  std::string study;
  std::string listen = "127.0.0.1:8080";
  bool no_auth = false;
  int threads = 4;
};

// The study whose token guards a non-loopback dashboard: the study file's, --study, or the only
// study in the store.
std::string GuardedStudy(const ServeOptions& o, const std::string& store_path) {
  if (!o.study.empty()) return o.study;
  const auto store = Store::OpenReadOnly(store_path);
  const auto studies = store->ListStudies();
  if (studies.size() != 1) {
    throw UserError(store_path + ": holds " + std::to_string(studies.size()) +
                    " studies; a dashboard on a non-loopback address needs one study's token: "
                    "name it with --study NAME, or pass --no-auth");
  }
  return studies.front().name;
}

int Serve(const ServeOptions& given) {
  ServeOptions o = given;
  ServerOptions options;
  options.threads = o.threads;
  if (!o.study_file.empty()) {
    const StudySpec spec = LoadStudyFile(o.study_file);
    options.store_path = o.db.empty() ? spec.storage : o.db;
    if (o.study.empty()) o.study = spec.name;
  } else {
    options.store_path = o.db;
  }
  if (options.store_path.empty()) throw UserError("name a study file, or a store with --db FILE");
  if (!std::filesystem::exists(options.store_path)) {
    throw UserError(options.store_path + ": no store yet (start the study with `ensweep run`)");
  }
  const auto [host, port] = SplitEndpoint(o.listen);
  options.host = host;
  options.port = static_cast<uint16_t>(std::stoi(port));
  std::string token_file;
  if (!IsLoopbackHost(host) && !o.no_auth) {
    token_file = StudyTokenPath(options.store_path, GuardedStudy(o, options.store_path));
    options.token = ToHex(LoadOrCreateToken(token_file));
  }
  DashboardServer server(options);
  if (!IsLoopbackHost(host) && o.no_auth) {
    std::cerr << "warning: --no-auth on " << host
              << ": anyone who can reach this address reads the whole store\n";
  }
  std::cout << "ensweep dashboard of " << options.store_path << " at " << server.Url() << "\n";
  if (!token_file.empty()) {
    std::cout << "open it with the study's token: " << server.Url() << "?token=$(cat " << token_file
              << ")\n";
  }
  std::cout << "Ctrl-C to stop" << std::endl;
  server.RunUntilSignal();
  std::cout << "dashboard stopped" << std::endl;
  return 0;
}

}  // namespace

Command AddServeCommand(CLI::App& root) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* app = root.add_subcommand(
      "serve", "Dashboard: the studies of a store in a web browser, live while a sweep runs");
  app->footer(
      "Read-only: the store is opened read-only, so a running sweep is never blocked.\n"
      "A --listen address other than loopback requires the study's token (the file\n"
      ".<store file name>.<study>.token beside the store), sent as ?token=..., a cookie or\n"
      "Authorization: Bearer; --no-auth turns that off.\n\n"
      "Examples:\n"
      "  ensweep serve studies/quickstart.yaml\n"
      "  ensweep serve --db runs/store.sqlite --listen 127.0.0.1:0\n"
      "  ensweep serve studies/quickstart.yaml --listen 0.0.0.0:8080");
  app->add_option("study", o->study_file, "Study file (YAML or JSON); its storage is served");
  app->add_option("--db", o->db, "SQLite store to serve instead of the study file's storage");
  app->add_option("--study", o->study, "Study whose token guards a non-loopback --listen");
  app->add_option("--listen", o->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:8080; port 0: any free port)");
  app->add_flag("--no-auth", o->no_auth, "Serve a non-loopback address without the token");
  app->add_option("--threads", o->threads, "Requests served at once (default 4)")
      ->check(Between(1, 64));
  return {app, [o] { return Serve(*o); }};
}

}  // namespace ensweep
