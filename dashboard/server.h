// The HTTP server of `ensweep serve`: the JSON API (dashboard/api.h) under /api/ and the web UI's
// files (dashboard/web_assets.h) at their paths, "/" being /index.html. Boost.Beast stays in
// server.cc.
//
// Read-only: each server thread opens its own read-only connection to the store (a Store is not
// thread-safe) and holds no transaction between requests, so a coordinator writing the store is
// never blocked or locked out, and the store's file and WAL are never written.
//
// Auth: with a token, every request must carry it, as `Authorization: Bearer <token>`, as the
// cookie `ensweep_token=<token>` or as the query `?token=<token>` (which the answer then sets as
// that cookie, so that a browser opened on a URL with the token keeps working); otherwise 401.
// Without a token (a loopback address, or --no-auth) every request is served.
//
// Robustness: a malformed request is answered 400 and the connection closed; a path that is not
// an asset or an API path is a 404 (assets are found by exact name in a fixed table, so no path
// reaches the file system); requests over 64 KiB are refused; idle connections close after 60 s.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ensweep {

struct ServerOptions {
  std::string store_path;  // the store, opened read-only
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (port() says which)
  std::string token;     // required from clients when not empty
  int threads = 4;       // requests served at once
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

class DashboardServer {
 public:
  // Binds the address. Throws UserError when it cannot (in use, not an address of this machine)
  // or when the store cannot be opened read-only.
  explicit DashboardServer(const ServerOptions& options);
  ~DashboardServer();  // stops and joins
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  uint16_t port() const;
  // "http://HOST:PORT/" (an IPv6 host in brackets).
  std::string Url() const;

  // Serves on background threads until Stop() or destruction.
  void Start();
  // Serves on this thread and options.threads - 1 others until Stop(), SIGINT or SIGTERM.
  void RunUntilSignal();
  // Thread-safe; returns once the server threads have ended (from Start's threads) or at once.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ensweep
