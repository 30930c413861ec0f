#include "dashboard/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/store.h"
#include "dashboard/api.h"
#include "dashboard/web_assets.h"
#include "orchestrator/auth.h"

namespace ensweep {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr const char* kCookieName = "ensweep_token";

using Response = http::response<http::string_body>;

// This thread's read-only connection to the store (a Store is not thread-safe), opened on first
// use; ResetThreadStore drops it after a failure so that the next request opens a fresh one.
thread_local std::unique_ptr<Store> thread_store;

Store& ThreadStore(const std::string& path) {
  if (!thread_store) thread_store = Store::OpenReadOnly(path);
  return *thread_store;
}

void ResetThreadStore() { thread_store.reset(); }

Response JsonResponse(unsigned version, int status, const Json& body) {
  Response r{static_cast<http::status>(status), version};
  r.set(http::field::content_type, "application/json; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.body() = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

// The value of `name` in a Cookie header, or "".
std::string CookieValue(const std::string& header, const std::string& name) {
  size_t from = 0;
  while (from < header.size()) {
    const size_t semi = std::min(header.find(';', from), header.size());
    std::string item = header.substr(from, semi - from);
    from = semi + 1;
    const size_t start = item.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    item = item.substr(start);
    if (item.rfind(name + "=", 0) == 0) return item.substr(name.size() + 1);
  }
  return "";
}

// Removes `token=...` from the target's query; returns its value (or nullopt).
std::optional<std::string> TakeQueryToken(std::string& target) {
  const size_t question = target.find('?');
  if (question == std::string::npos) return std::nullopt;
  std::optional<std::string> token;
  std::string kept;
  size_t from = question + 1;
  while (from <= target.size()) {
    const size_t amp = std::min(target.find('&', from), target.size());
    const std::string item = target.substr(from, amp - from);
    from = amp + 1;
    if (item.rfind("token=", 0) == 0) {
      token = UrlDecode(item.substr(6), true).value_or("");
    } else if (!item.empty()) {
      kept += (kept.empty() ? "" : "&") + item;
    }
  }
  target = target.substr(0, question) + (kept.empty() ? "" : "?" + kept);
  return token;
}

// What the server's threads share: the options, the acceptor, the API and its caches.
struct ServerState {
  ServerOptions options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  DashboardApi api{true};  // importance computed in the background
  std::vector<std::thread> threads;
  std::mutex mutex;

  bool Authorized(const http::request<http::string_body>& request,
                  const std::optional<std::string>& query_token) const {
    if (options.token.empty()) return true;
    auto same = [&](const std::string& given) { return SameMac(given, options.token); };
    if (query_token && same(*query_token)) return true;
    const auto auth = request.find(http::field::authorization);
    if (auth != request.end()) {
      const std::string value(auth->value());
      if (value.rfind("Bearer ", 0) == 0 && same(value.substr(7))) return true;
    }
    const auto cookie = request.find(http::field::cookie);
    return cookie != request.end() && same(CookieValue(std::string(cookie->value()), kCookieName));
  }

  Response Serve(const http::request<http::string_body>& request) {
    const unsigned version = request.version();
    std::string target(request.target());
    const auto query_token = TakeQueryToken(target);
    if (!Authorized(request, query_token)) {
      Response r = JsonResponse(version, 401,
                                Json{{"error",
                                      "this dashboard needs the study's token: open it with "
                                      "?token=<token> or send Authorization: Bearer <token>"}});
      r.set(http::field::www_authenticate, "Bearer");
      return r;
    }
    Response r = Answer(version, std::string(request.method_string()), target);
    if (query_token && !options.token.empty()) {
      r.set(http::field::set_cookie,
            std::string(kCookieName) + "=" + *query_token + "; Path=/; HttpOnly; SameSite=Strict");
    }
    r.set("X-Content-Type-Options", "nosniff");
    return r;
  }

  Response Answer(unsigned version, const std::string& method, const std::string& target) {
    const std::string path = target.substr(0, target.find('?'));
    if (path == "/api" || path.rfind("/api/", 0) == 0) {
      DashboardApi::Text answer;
      try {
        answer = api.HandleText(ThreadStore(options.store_path), method, target);
      } catch (const std::exception& e) {
        answer = {500, std::make_shared<const std::string>(Json{{"error", e.what()}}.dump())};
      }
      if (answer.status == 500) ResetThreadStore();
      Response r{static_cast<http::status>(answer.status), version};
      r.set(http::field::content_type, "application/json; charset=utf-8");
      r.set(http::field::cache_control, "no-store");
      r.body() = *answer.body;
      return r;
    }
    if (method != "GET" && method != "HEAD") {
      return JsonResponse(version, 405, Json{{"error", "only GET is served"}});
    }
    const WebAsset* asset = FindWebAsset(path == "/" ? "/index.html" : path);
    if (asset == nullptr)
      return JsonResponse(version, 404, Json{{"error", "no such path: " + path}});
    Response r{http::status::ok, version};
    r.set(http::field::content_type, asset->content_type);
    r.set(http::field::cache_control, "no-cache");
    r.body().assign(reinterpret_cast<const char*>(asset->data), asset->size);
    return r;
  }
};

// One client connection: reads requests and answers them in turn until the client closes it, a
// request is malformed, or it idles past kIdleTimeout.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerState& server) : stream_(std::move(socket)), server_(server) {}

  void Read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // Malformed or oversized: one 400 answer, then the connection is closed.
      Write(JsonResponse(11, 400, Json{{"error", "bad request: " + ec.message()}}), true);
      return;
    }
    const auto& request = parser_->get();
    Response response;
    try {
      response = server_.Serve(request);
    } catch (const std::exception& e) {
      response = JsonResponse(request.version(), 500, Json{{"error", e.what()}});
    }
    response.keep_alive(request.keep_alive());
    if (request.method() == http::verb::head) response.body().clear();
    Write(std::move(response), !request.keep_alive());
  }

  void Write(Response response, bool close) {
    auto shared = std::make_shared<Response>(std::move(response));
    if (close) shared->keep_alive(false);
    shared->prepare_payload();
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *shared,
                      [self = shared_from_this(), shared, close](beast::error_code ec, size_t) {
                        if (ec || close) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  ServerState& server_;
};

void Accept(ServerState& server) {
  server.acceptor.async_accept([&server](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), server)->Read();
    Accept(server);
  });
}

}  // namespace

struct DashboardServer::Impl : ServerState {};

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

DashboardServer::DashboardServer(const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  if (impl_->options.threads < 1) impl_->options.threads = 1;
  // Fails now, not on the first request; and starts every study's importance and first-paint
  // answers, so that the first page of a study does not wait for them.
  impl_->api.Warm(*Store::OpenReadOnly(options.store_path));
  beast::error_code ec;
  const std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw UserError("--listen " + options.host + ": not an IP address");
  const tcp::endpoint endpoint(address, options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw UserError("--listen " + options.host + ":" + std::to_string(options.port) +
                    ": cannot listen there: " + ec.message());
  }
  Accept(*impl_);
}

DashboardServer::~DashboardServer() { Stop(); }

uint16_t DashboardServer::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string DashboardServer::Url() const {
  const auto address = impl_->acceptor.local_endpoint().address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

void DashboardServer::Start() {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

void DashboardServer::RunUntilSignal() {
  asio::signal_set signals(impl_->io, SIGINT, SIGTERM);
  signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->io.stop();
  });
  {
    const std::lock_guard<std::mutex> lock(impl_->mutex);
    for (int i = 1; i < impl_->options.threads; ++i) {
      impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
  }
  impl_->io.run();
  Stop();
}

void DashboardServer::Stop() {
  impl_->io.stop();
  std::vector<std::thread> threads;
  {
    const std::lock_guard<std::mutex> lock(impl_->mutex);
    threads.swap(impl_->threads);
  }
  for (auto& thread : threads) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
}

}  // namespace ensweep
