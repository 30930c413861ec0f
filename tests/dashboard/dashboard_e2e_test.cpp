// The dashboard against the real binary: serving while a sweep writes the store, the store left
// untouched by any number of requests, `ensweep serve`'s token and signals, `ensweep report`.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <thread>

#include "dashboard/api.h"
#include "dashboard/server.h"
#include "orchestrator/auth.h"
#include "tests/dashboard/dashboard_fixture.h"
#include "tests/e2e/e2e_util.h"

namespace ensweep::testing {
namespace {

using Json = nlohmann::json;

// Size, modification time and bytes of a file; "absent" when there is none.
std::string FileState(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "absent";
  return std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + ReadFile(path);
}

// Starts `ensweep <args>` in its own process group with stdout and stderr to `output`.
pid_t StartEnsweep(const std::vector<std::string>& args, const fs::path& output) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    const std::string binary = Ensweep();
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// The port in the "... at http://HOST:PORT/" line `ensweep serve` prints.
uint16_t ServedPort(const fs::path& output) {
  REQUIRE(WaitFor(output, "Ctrl-C to stop"));
  std::smatch m;
  const std::string text = ReadFile(output);
  REQUIRE(std::regex_search(text, m, std::regex(R"(at http://[^:]+:(\d+)/)")));
  return static_cast<uint16_t>(std::stoi(m[1].str()));
}

// The window.ENSWEEP_DATA object of a report.
Json EmbeddedData(const std::string& html) {
  const std::string start = "window.ENSWEEP_DATA = ";
  const size_t from = html.find(start);
  REQUIRE(from != std::string::npos);
  const size_t end = html.find(";</script>", from);
  REQUIRE(end != std::string::npos);
  std::string text = html.substr(from + start.size(), end - from - start.size());
  CHECK(text.find("</") == std::string::npos);
  text = std::regex_replace(text, std::regex(R"(<\\/)"), "</");
  return Json::parse(text);
}

}  // namespace

TEST_CASE("many requests leave the store's file and its WAL unchanged", "[dashboard][e2e]") {
  DashboardFixture fixture;
  const fs::path store = fixture.store_path;
  // A writer holds the store open with a commit in its WAL, as a coordinator would.
  const auto writer = Store::OpenForWriting(fixture.store_path);
  writer->SetMeta("dashboard_test", "a commit left in the WAL");
  const std::string before = FileState(store), wal = FileState(store.string() + "-wal");
  REQUIRE(wal != "absent");
  ServerOptions options;
  options.store_path = fixture.store_path;
  options.port = 0;
  DashboardServer server(options);
  server.Start();
  const std::vector<std::string> paths = {"/api/studies",
                                          "/api/studies/dash",
                                          "/api/studies/dash/trials?state=COMPLETE&limit=7",
                                          "/api/studies/dash/trials/19",
                                          "/api/studies/dash/history",
                                          "/api/studies/dash/curves",
                                          "/api/studies/dash/importance",
                                          "/api/studies/dash/ensembles",
                                          "/api/studies/nope"};
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        for (const auto& path : paths) {
          if (HttpGet(server.port(), path).status != 500) ++answered;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  server.Stop();
  CHECK(answered == 4 * 25 * static_cast<int>(paths.size()));
  CHECK(FileState(store) == before);
  CHECK(FileState(store.string() + "-wal") == wal);
}

TEST_CASE("the dashboard answers while a sweep writes the store, and the sweep finishes",
          "[dashboard][e2e]") {
  const fs::path dir = FreshDir("dashboard_live");
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: live\nstorage: " << (dir / "store.sqlite").string()
                       << "\nartifacts: " << (dir / "artifacts").string()
                       << "\ntrainer: {type: curve, epoch_time: 0.05s, noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: 24, epochs: 4}\nsampler: {type: random, seed: 3}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  const fs::path output = dir / "run.txt";
  const pid_t run = StartEnsweep({"run", study.string(), "--workers", "2"}, output);
  REQUIRE(WaitFor(output, "coordinator listening"));
  ServerOptions options;
  options.store_path = (dir / "store.sqlite").string();
  options.port = 0;
  DashboardServer server(options);
  server.Start();
  // The coordinator records the study once it has started listening: until then the store may
  // lack the study (404) or, before its schema is written, answer otherwise. Wait, bounded, for
  // the study to be there.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int study_status = HttpGet(server.port(), "/api/studies/live").status;
  while (study_status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    study_status = HttpGet(server.port(), "/api/studies/live").status;
  }
  REQUIRE(study_status == 200);
  int answers_during_run = 0;
  std::set<std::string> revisions;
  int status = -2;
  while (true) {
    int raw = 0;
    if (waitpid(run, &raw, WNOHANG) == run) {
      status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
      break;
    }
    const HttpAnswer studies = HttpGet(server.port(), "/api/studies");
    const HttpAnswer page = HttpGet(server.port(), "/api/studies/live/trials?limit=5");
    REQUIRE(studies.status == 200);
    REQUIRE(page.status == 200);
    ++answers_during_run;
    revisions.insert(studies.Json().at("studies")[0].at("revision").get<std::string>());
  }
  INFO(ReadFile(output));
  CHECK(status == 0);
  CHECK(answers_during_run > 0);
  CHECK(revisions.size() > 1);  // it saw the sweep move
  CHECK(ReadFile(output).find("locked") == std::string::npos);
  const Json page = HttpGet(server.port(), "/api/studies/live/trials?state=COMPLETE").Json();
  CHECK(page.at("total") == 24);
}

TEST_CASE("ensweep report embeds every listed path and refers to no external URL",
          "[dashboard][e2e]") {
  DashboardFixture fixture;
  const fs::path out = fixture.dir / "report.html";
  const auto report = RunCommand(Ensweep() + " report --db " + fixture.store_path +
                                 " --study dash -o " + out.string());
  INFO(report.output);
  REQUIRE(report.status == 0);
  CHECK_THAT(report.output, Catch::Contains("report: trials: 30"));
  const std::string html = ReadFile(out);
  const Json data = EmbeddedData(html);
  std::set<std::string> keys;
  for (const auto& item : data.items()) keys.insert(item.key());
  std::set<std::string> expected = {"/api/studies",
                                    "/api/studies/dash",
                                    "/api/studies/dash/trials?limit=all",
                                    "/api/studies/dash/history",
                                    "/api/studies/dash/curves",
                                    "/api/studies/dash/importance",
                                    "/api/studies/dash/ensembles"};
  for (int n = 0; n < 20; ++n) expected.insert("/api/studies/dash/trials/" + std::to_string(n));
  expected.insert("/api/studies/dash/trials/24");
  expected.insert("/api/studies/dash/trials/25");
  CHECK(keys == expected);
  // The trials in the compact form: one array per field, parameter and metric, best first.
  const Json& columns = data.at("/api/studies/dash/trials?limit=all").at("columns");
  CHECK(columns.at("number").size() == 30);
  // In the API's order (by value, best first), with the API's values.
  const auto store = Store::OpenReadOnly(fixture.store_path);
  const Json api = HandleApi(*store, "GET", "/api/studies/dash/trials?limit=all").body;
  REQUIRE(api.at("trials").size() == 30);
  for (size_t i = 0; i < 30; ++i) {
    const Json& t = api.at("trials")[i];
    CHECK(columns.at("number")[i] == t.at("number"));
    CHECK(columns.at("state")[i] == t.at("state"));
    CHECK(columns.at("value")[i] == t.at("value"));
    CHECK(columns.at("params").at("lr")[i] == t.at("params").at("lr"));
  }
  CHECK(columns.at("params").at("lr").size() == 30);
  CHECK(columns.at("metrics").at("val_accuracy").size() == 30);
  CHECK(data.at("/api/studies/dash/curves").at("best_trials_only") == 1000);
  CHECK(data.at("/api/studies/dash/trials/19").at("confusion").at("matrix").size() == 3);
  CHECK_FALSE(std::regex_search(
      html, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase)));
  CHECK(html.find("<script src=") == std::string::npos);
  CHECK(html.find("<link rel=\"stylesheet\"") == std::string::npos);
  CHECK(html.find("window.ENSWEEP_DATA") < html.rfind("<script>"));
}

TEST_CASE("ensweep report --format md summarises the study with its best trial",
          "[dashboard][e2e]") {
  DashboardFixture fixture;
  const fs::path out = fixture.dir / "summary.md";
  const auto report = RunCommand(Ensweep() + " report --db " + fixture.store_path +
                                 " --study dash -q -o " + out.string());
  INFO(report.output);
  REQUIRE(report.status == 0);
  const std::string md = ReadFile(out);
  CHECK_THAT(md, Catch::Contains("## Study `dash`"));
  CHECK_THAT(md, Catch::Contains("- best: trial 19, val_accuracy = 0.19"));
  CHECK_THAT(md, Catch::Contains("| 19 | COMPLETE | 0.19 |"));
  CHECK_THAT(md, Catch::Contains("### Parameter importance (fanova, 20 trials)"));
  CHECK_THAT(md, Catch::Contains("`lr`"));
  const auto missing = RunCommand(Ensweep() + " report --db " + fixture.store_path +
                                  " --study nope -o " + out.string());
  CHECK(missing.status == 2);
}

TEST_CASE("ensweep serve on a non-loopback address needs the study's token and stops on SIGTERM",
          "[dashboard][e2e]") {
  DashboardFixture fixture;
  const fs::path output = fixture.dir / "serve.txt";
  const pid_t serve =
      StartEnsweep({"serve", "--db", fixture.store_path, "--listen", "0.0.0.0:0"}, output);
  const uint16_t port = ServedPort(output);
  CHECK(HttpGet(port, "/api/studies").status == 401);
  CHECK(HttpGet(port, "/api/studies", {{"Authorization", "Bearer nope"}}).status == 401);
  const std::string token = ToHex(ReadTokenFile(StudyTokenPath(fixture.store_path, "dash")));
  CHECK(HttpGet(port, "/api/studies", {{"Authorization", "Bearer " + token}}).status == 200);
  CHECK(HttpGet(port, "/api/studies?token=" + token).status == 200);
  kill(serve, SIGTERM);
  CHECK(WaitExit(serve, std::chrono::seconds(30)) == 0);
  CHECK_THAT(ReadFile(output), Catch::Contains("dashboard stopped"));

  const fs::path open_output = fixture.dir / "serve_open.txt";
  const pid_t open = StartEnsweep(
      {"serve", "--db", fixture.store_path, "--listen", "0.0.0.0:0", "--no-auth"}, open_output);
  const uint16_t open_port = ServedPort(open_output);
  CHECK(HttpGet(open_port, "/api/studies").status == 200);
  CHECK_THAT(ReadFile(open_output), Catch::Contains("warning: --no-auth"));
  kill(open, SIGINT);
  CHECK(WaitExit(open, std::chrono::seconds(30)) == 0);
}

}  // namespace ensweep::testing
