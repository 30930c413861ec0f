// A store with one small study for the dashboard tests, and an HTTP client for its server.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/npy.h"
#include "core/store.h"
#include "core/study.h"
#include "tests/scratch_dir.h"

namespace ensweep::testing {

namespace fs = std::filesystem;

// Study "dash": 30 trials over lr (log-uniform), opt (sgd|adam) and depth (1..4), maximising
// val_accuracy, with an ASHA pruner (rungs 1 and 3 of 9 epochs). Trial n has opt sgd when n is
// even, depth 1 + n % 4 and value n / 100 when COMPLETE. Trials 0..19 COMPLETE (3 epochs each),
// 20..23 PRUNED, 24..25 FAILED, 26 RUNNING, 27..29 QUEUED. Trial 19 (the best) has validation
// predictions: 6 rows of 3 classes, labels 0,0,1,1,2,2 predicted 0,1,1,1,2,0.
struct DashboardFixture {
  fs::path dir = ::ensweep::test::FreshDir("ensweep_dashboard", "fixture");
  std::string store_path = (dir / "store.sqlite").string();

  static std::string StudyYaml(const fs::path& dir) {
    return "study: dash\nstorage: " + (dir / "store.sqlite").string() +
           "\nartifacts: " + (dir / "artifacts").string() +
           "\ntrainer: {type: curve}\nobjective: {metric: val_accuracy, direction: maximize}\n"
           "budget: {trials: 40, epochs: 9}\npruner: {type: asha, min_epochs: 1, reduction: 3}\n"
           "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n  opt: {choice: [sgd, adam]}\n"
           "  depth: {int: [1, 4]}\n  width: 8\n";
  }

  DashboardFixture() {
    const StudySpec spec = LoadStudyText(StudyYaml(dir), "dash.yaml", dir.string());
    auto store = Store::OpenForWriting(store_path);
    const int64_t study = store->CreateOrUpdateStudy(spec);
    for (int n = 0; n < 30; ++n) AddTrial(*store, study, n);
  }

  void AddTrial(Store& store, int64_t study, int n) {
    const nlohmann::json params = {{"lr", 0.001 * (n + 1)},
                                   {"opt", n % 2 == 0 ? "sgd" : "adam"},
                                   {"depth", 1 + n % 4},
                                   {"width", 8}};
    const int64_t id = store.AddTrial(study, n, TrialState::kQueued, params, 1000 + n);
    if (n >= 27) return;
    store.MarkRunning(id, "w" + std::to_string(n % 3), params);
    if (n == 26) return;
    const double value = n / 100.0;
    for (int e = 1; e <= 3; ++e) store.RecordEpoch(id, e, {{"val_accuracy", value * e / 3}});
    if (n >= 24) {
      store.MarkFailed(id, "trial " + std::to_string(n) + " diverged", 1);
      return;
    }
    const MetricMap metrics = {{"val_accuracy", value}, {"val_loss", 1 - value}};
    std::vector<ArtifactRecord> artifacts;
    if (n == 19) artifacts = Predictions();
    if (n >= 20) {
      store.MarkPruned(id, value, metrics, {}, 1);
    } else {
      store.MarkComplete(id, value, metrics, artifacts, 3);
    }
  }

  std::vector<ArtifactRecord> Predictions() {
    fs::create_directories(dir / "artifacts");
    Matrix probs;
    probs.rows = 6;
    probs.cols = 3;
    const int predicted[6] = {0, 1, 1, 1, 2, 0};
    for (int r = 0; r < 6; ++r) {
      for (int c = 0; c < 3; ++c) probs.values.push_back(c == predicted[r] ? 0.8f : 0.1f);
    }
    const std::string npy = (dir / "artifacts/val_probs.npy").string();
    WriteNpy(npy, probs);
    const std::string csv = (dir / "artifacts/val_index.csv").string();
    std::ofstream index(csv);
    index << "row,path,person,label\n";
    for (int r = 0; r < 6; ++r) index << r << ",img" << r << ".jpg,p" << r << "," << r / 2 << "\n";
    index.close();
    return {DescribeArtifact("val_probs", npy), DescribeArtifact("val_index", csv)};
  }
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
};

// One GET (or `method`) to 127.0.0.1:port, with extra request headers.
inline HttpAnswer HttpGet(uint16_t port, const std::string& target,
                          const std::map<std::string, std::string>& headers = {},
                          const std::string& method = "GET") {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(512 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buffer, parser);
  HttpAnswer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  answer.body = parser.get().body();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    answer.headers[name] = std::string(field.value());
  }
  boost::beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return answer;
}

// Raw bytes to 127.0.0.1:port, and whatever comes back before the server closes.
inline std::string RawExchange(uint16_t port, const std::string& bytes) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  socket.shutdown(asio::ip::tcp::socket::shutdown_send);
  std::string reply;
  boost::system::error_code ec;
  char chunk[4096];
  while (!ec) {
    const size_t n = socket.read_some(asio::buffer(chunk), ec);
    reply.append(chunk, n);
  }
  return reply;
}

}  // namespace ensweep::testing
