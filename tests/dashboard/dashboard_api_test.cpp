// The dashboard's JSON API over real HTTP on loopback (docs/dashboard.md).
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "dashboard/api.h"
#include "dashboard/server.h"
#include "orchestrator/auth.h"
#include "tests/dashboard/dashboard_fixture.h"

namespace ensweep::testing {
namespace {

using Json = nlohmann::json;

struct Served : DashboardFixture {
  std::unique_ptr<DashboardServer> server;
  explicit Served(const std::string& token = "") {
    ServerOptions options;
    options.store_path = store_path;
    options.port = 0;
    options.token = token;
    server = std::make_unique<DashboardServer>(options);
    server->Start();
  }
  // The importance once the server's background computation is done (bounded wait).
  Json ReadyImportance(const std::string& study) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    Json answer = Get("/api/studies/" + study + "/importance");
    while (answer.contains("pending") && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      answer = Get("/api/studies/" + study + "/importance");
    }
    REQUIRE_FALSE(answer.contains("pending"));
    return answer;
  }
  Json Get(const std::string& target, int expected = 200) const {
    const HttpAnswer answer = HttpGet(server->port(), target);
    INFO(target << " -> " << answer.status << " " << answer.body);
    REQUIRE(answer.status == expected);
    CHECK(answer.headers.at("content-type") == "application/json; charset=utf-8");
    return answer.Json();
  }
};

std::vector<int64_t> Numbers(const Json& page) {
  std::vector<int64_t> numbers;
  for (const auto& t : page.at("trials")) numbers.push_back(t.at("number").get<int64_t>());
  return numbers;
}

}  // namespace

TEST_CASE("the studies list gives each study's counts, best trial, budget and revision",
          "[dashboard]") {
  Served served;
  const Json studies = served.Get("/api/studies").at("studies");
  REQUIRE(studies.size() == 1);
  const Json& s = studies[0];
  CHECK(s.at("name") == "dash");
  CHECK(s.at("metric") == "val_accuracy");
  CHECK(s.at("direction") == "maximize");
  CHECK(s.at("planned") == 40);
  CHECK(s.at("counts") == Json{{"complete", 20},
                               {"pruned", 4},
                               {"failed", 2},
                               {"running", 1},
                               {"queued", 3},
                               {"stale", 0}});
  CHECK(s.at("total") == 30);
  CHECK(s.at("best").at("number") == 19);
  CHECK(s.at("best").at("value").get<double>() == Approx(0.19));
  CHECK(s.at("eta_seconds").is_number());
  CHECK(s.at("revision").is_string());
  CHECK(s.at("updated_at").get<double>() >= s.at("created_at").get<double>());
}

TEST_CASE("a study's page has its space, metrics, pruner rungs and artifact bytes", "[dashboard]") {
  Served served;
  const Json s = served.Get("/api/studies/dash");
  CHECK(s.at("spec").at("study") == "dash");
  std::map<std::string, Json> params;
  for (const auto& p : s.at("params")) params[p.at("name")] = p;
  CHECK(params.count("width") == 0);  // a constant is not searched
  CHECK(params.at("lr").at("type") == "float");
  CHECK(params.at("lr").at("log") == true);
  CHECK(params.at("opt").at("choices") == Json::array({"sgd", "adam"}));
  CHECK(params.at("depth").at("type") == "int");
  CHECK(params.at("depth").at("high") == 4);
  CHECK(s.at("metrics") == Json::array({"val_accuracy", "val_loss"}));
  CHECK(s.at("rungs") == Json::array({1, 3}));
  CHECK(s.at("artifacts_bytes").get<int64_t>() > 0);
}

TEST_CASE("a page of trials has the total, offset and limit asked for", "[dashboard]") {
  Served served;
  const Json page = served.Get("/api/studies/dash/trials?sort=number&offset=10&limit=5");
  CHECK(page.at("total") == 30);
  CHECK(page.at("offset") == 10);
  CHECK(page.at("limit") == 5);
  CHECK(Numbers(page) == std::vector<int64_t>{10, 11, 12, 13, 14});
  const Json all = served.Get("/api/studies/dash/trials?limit=all");
  CHECK(all.at("trials").size() == 30);
  const Json past_end = served.Get("/api/studies/dash/trials?offset=100");
  CHECK(past_end.at("total") == 30);
  CHECK(past_end.at("trials").empty());
}

TEST_CASE("trials filter by state and by a parameter's value", "[dashboard]") {
  Served served;
  const Json failed = served.Get("/api/studies/dash/trials?state=FAILED,running&sort=number");
  CHECK(Numbers(failed) == std::vector<int64_t>{24, 25, 26});
  CHECK(failed.at("trials")[0].at("error") == "trial 24 diverged");
  const Json adam =
      served.Get("/api/studies/dash/trials?state=COMPLETE&param.opt=adam&param.depth=4");
  // Odd n with n % 4 == 3 among 0..19: 3, 7, 11, 15, 19; best first.
  CHECK(Numbers(adam) == std::vector<int64_t>{19, 15, 11, 7, 3});
  CHECK(adam.at("total") == 5);
  const Json lr = served.Get("/api/studies/dash/trials?param.lr=0.003");
  CHECK(Numbers(lr) == std::vector<int64_t>{2});
}

TEST_CASE("trials sort by value, number, duration, a metric or a parameter in either order",
          "[dashboard]") {
  Served served;
  const Json best = served.Get("/api/studies/dash/trials?limit=3");
  CHECK(Numbers(best) == std::vector<int64_t>{23, 22, 21});  // best first, pruned included
  const Json worst = served.Get("/api/studies/dash/trials?sort=value&order=asc&limit=2");
  CHECK(Numbers(worst) == std::vector<int64_t>{0, 1});
  const Json last = served.Get("/api/studies/dash/trials?offset=24");
  for (const auto& t : last.at("trials")) CHECK(t.at("value").is_null());  // without value last
  const Json loss = served.Get("/api/studies/dash/trials?sort=val_loss&order=asc&limit=1");
  CHECK(Numbers(loss) == std::vector<int64_t>{23});
  const Json depth = served.Get("/api/studies/dash/trials?sort=param.depth&order=desc&limit=2");
  CHECK(Numbers(depth) == std::vector<int64_t>{3, 7});
  const Json number = served.Get("/api/studies/dash/trials?sort=number&order=desc&limit=1");
  CHECK(Numbers(number) == std::vector<int64_t>{29});
  const Json duration = served.Get("/api/studies/dash/trials?sort=duration&limit=30");
  CHECK(duration.at("trials")[0].at("duration_seconds").is_number());
  CHECK(duration.at("trials")[29].at("duration_seconds").is_null());
}

TEST_CASE("one trial has its epochs, artifacts and confusion matrix", "[dashboard]") {
  Served served;
  const Json t = served.Get("/api/studies/dash/trials/19");
  CHECK(t.at("state") == "COMPLETE");
  CHECK(t.at("params").at("opt") == "adam");
  REQUIRE(t.at("epochs").size() == 3);
  CHECK(t.at("epochs")[2].at("epoch") == 3);
  CHECK(t.at("epochs")[2].at("metrics").at("val_accuracy").get<double>() == Approx(0.19));
  REQUIRE(t.at("artifacts").size() == 2);
  CHECK(t.at("artifacts")[0].at("kind") == "val_index");
  const Json& confusion = t.at("confusion");
  CHECK(confusion.at("labels") == Json::array({"0", "1", "2"}));
  CHECK(confusion.at("matrix") == Json::array({{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}));
  CHECK(served.Get("/api/studies/dash/trials/18").at("confusion").is_null());
}

TEST_CASE("history, curves and ensembles answer in the documented shapes", "[dashboard]") {
  Served served;
  const Json history = served.Get("/api/studies/dash/history").at("trials");
  REQUIRE(history.size() == 30);
  CHECK(history[19][0] == 19);
  CHECK(history[19][1] == "COMPLETE");
  CHECK(history[19][2].get<double>() == Approx(0.19));
  CHECK(history[29][2].is_null());
  CHECK(history[29][3].is_null());
  const Json curves = served.Get("/api/studies/dash/curves?trials=3,19");
  CHECK(curves.at("metric") == "val_accuracy");
  REQUIRE(curves.at("curves").size() == 2);
  CHECK(curves.at("curves")[1].at("number") == 19);
  CHECK(curves.at("curves")[1].at("points").size() == 3);
  CHECK(served.Get("/api/studies/dash/curves").at("curves").size() == 26);
  CHECK(served.Get("/api/studies/dash/ensembles").at("ensembles").empty());
}

TEST_CASE("importance ranks the searched parameters and sums to one", "[dashboard]") {
  Served served;
  const Json importance = served.ReadyImportance("dash");
  CHECK(importance.at("method") == "fanova");
  CHECK(importance.at("trials_used") == 20);
  double sum = 0;
  std::set<std::string> names;
  for (const auto& i : importance.at("importances")) {
    sum += i.at("importance").get<double>();
    names.insert(i.at("param").get<std::string>());
  }
  CHECK(sum == Approx(1.0));
  CHECK(names == std::set<std::string>{"lr", "opt", "depth"});
  // The value rises with n, as lr does: lr explains it.
  CHECK(importance.at("importances")[0].at("param") == "lr");
  CHECK(served.Get("/api/studies/dash/importance") == importance);  // cached, the same
}

TEST_CASE("an importance computed in the background is pending first, then the computed answer",
          "[dashboard]") {
  DashboardFixture fixture;
  const auto store = Store::OpenReadOnly(fixture.store_path);
  const Json computed = HandleApi(*store, "GET", "/api/studies/dash/importance").body;
  REQUIRE(computed.at("trials_used") == 20);
  DashboardApi api(true);
  const ApiResponse first = api.Handle(*store, "GET", "/api/studies/dash/importance");
  CHECK(first.status == 200);
  CHECK(first.body.at("pending") == true);
  CHECK(first.body.at("method") == "fanova");
  CHECK(first.body.at("importances").empty());
  // Not kept as text: the answer after the computation is the computed one.
  CHECK(api.HandleText(*store, "GET", "/api/studies/dash/importance").status == 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Json answer = first.body;
  while (answer.contains("pending") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    answer = Json::parse(*api.HandleText(*store, "GET", "/api/studies/dash/importance").body);
  }
  CHECK(answer == computed);
}

TEST_CASE("unknown paths, studies and trials are 404 and malformed queries 400", "[dashboard]") {
  Served served;
  served.Get("/api/studies/nope", 404);
  served.Get("/api/studies/dash/trials/99", 404);
  served.Get("/api/studies/dash/frobnicate", 404);
  served.Get("/api/nothing", 404);
  served.Get("/api/studies/dash/trials?colour=red", 400);
  served.Get("/api/studies/dash/trials?limit=5000", 400);
  served.Get("/api/studies/dash/trials?limit=-1", 400);
  served.Get("/api/studies/dash/trials?state=DONE", 400);
  served.Get("/api/studies/dash/trials?order=up", 400);
  served.Get("/api/studies/dash/trials/abc", 400);
  served.Get("/api/studies/dash/curves?trials=1,x", 400);
  served.Get("/api/studies/dash/trials?sort=param.a%22b", 400);
  served.Get("/api/studies/%zz", 400);
  const Json error = served.Get("/api/studies?x=1", 400);
  CHECK(error.at("error").is_string());
  // Assets are looked up by exact name: no path reaches the file system.
  for (const char* path : {"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/web/../app.js",
                           "/etc/passwd", "//index.html"}) {
    CHECK(HttpGet(served.server->port(), path).status == 404);
  }
  CHECK(HttpGet(served.server->port(), "/api/studies", {}, "POST").status == 405);
  const std::string garbage = RawExchange(served.server->port(), "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);
  // The server is still up after all of it.
  CHECK(served.Get("/api/studies").at("studies").size() == 1);
}

TEST_CASE("the web UI's files are served, / as index.html", "[dashboard]") {
  Served served;
  const HttpAnswer index = HttpGet(served.server->port(), "/");
  CHECK(index.status == 200);
  CHECK(index.headers.at("content-type") == "text/html; charset=utf-8");
  CHECK(index.body == HttpGet(served.server->port(), "/index.html").body);
  CHECK(HttpGet(served.server->port(), "/app.js").status == 200);
  CHECK(HttpGet(served.server->port(), "/chart.min.js").status == 200);
  CHECK(HttpGet(served.server->port(), "/style.css").status == 200);
}

TEST_CASE("with a token, requests without it or with a wrong one are 401", "[dashboard]") {
  const std::string token = ToHex(RandomBytes(kSecretBytes));
  Served served(token);
  const uint16_t port = served.server->port();
  CHECK(HttpGet(port, "/api/studies").status == 401);
  CHECK(HttpGet(port, "/").status == 401);
  CHECK(
      HttpGet(port, "/api/studies", {{"Authorization", "Bearer " + std::string(64, '0')}}).status ==
      401);
  CHECK(HttpGet(port, "/api/studies?token=" + std::string(64, 'a')).status == 401);
  CHECK(HttpGet(port, "/api/studies", {{"Authorization", "Bearer " + token}}).status == 200);
  const HttpAnswer by_query = HttpGet(port, "/api/studies?token=" + token);
  CHECK(by_query.status == 200);
  REQUIRE(by_query.headers.count("set-cookie") == 1);
  const std::string cookie = by_query.headers.at("set-cookie");
  CHECK(cookie.rfind("ensweep_token=" + token, 0) == 0);
  CHECK(HttpGet(port, "/", {{"Cookie", "theme=dark; ensweep_token=" + token}}).status == 200);
  CHECK(HttpGet(port, "/", {{"Cookie", "ensweep_token=wrong"}}).status == 401);
}

TEST_CASE("HandleApi answers without a server, and loopback hosts are told apart", "[dashboard]") {
  DashboardFixture fixture;
  const auto store = Store::OpenReadOnly(fixture.store_path);
  const ApiResponse answer = HandleApi(*store, "GET", "/api/studies/dash/trials?limit=1");
  CHECK(answer.status == 200);
  CHECK(answer.body.at("total") == 30);
  CHECK(UrlDecode("a%20b+c", true) == std::optional<std::string>("a b c"));
  CHECK_FALSE(UrlDecode("%4", false).has_value());
  CHECK(UrlEncode("a b/c") == "a%20b%2Fc");
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("::1"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK_FALSE(IsLoopbackHost("0.0.0.0"));
  CHECK_FALSE(IsLoopbackHost("10.1.2.3"));
}

}  // namespace ensweep::testing
