// End to end: a real `ensweep run` keeps running and stores every trial while clients attack its
// TCP port: unauthenticated garbage, oversized and truncated frames, wrong tokens, and peers that
// hold the study's token but send messages with fields of the wrong type, a second HELLO, or a
// DONE whose artifacts point outside the trial's folder (some of them while holding a trial).
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "orchestrator/auth.h"
#include "orchestrator/message.h"
#include "orchestrator/tcp_transport.h"
#include "tests/e2e/e2e_util.h"

using namespace ensweep;
using namespace ensweep::testing;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// A raw TCP connection to "127.0.0.1:port" that sends `bytes` and then reads until the
// coordinator closes it (or 3 s pass); returns what it received.
std::string RawExchange(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "<no connection>";
  }
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (!bytes.empty()) (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, n);
  close(fd);
  return received;
}

// Receives until a message of `type` arrives (skipping HEARTBEATs and others); nullopt if the
// coordinator closed the connection first.
std::optional<Message> ReceiveType(WorkerChannel& channel, const std::string& type) {
  try {
    while (true) {
      Message message = channel.Receive();
      if (message.type == type) return message;
    }
  } catch (const ChannelClosed&) {
    return std::nullopt;
  }
}

// True once the coordinator has closed `channel` (it answers nothing more than heartbeats).
bool ClosedByCoordinator(WorkerChannel& channel) {
  try {
    while (true) channel.Receive();
  } catch (const ChannelClosed&) {
    return true;
  }
}

Message Raw(const std::string& type, Json body) { return Message{type, std::move(body)}; }

Message ValidHello(const std::string& name) {
  return msg::Encode(msg::Hello{kProtocolVersion, name, "attacker", 4242});
}

// The attacked study: 10 trials x 4 epochs of 0.25 s with one honest local worker (about 10 s).
fs::path WriteAttackStudy(const fs::path& dir) {
  const fs::path study = dir / "study.yaml";
  std::ofstream(study) << "study: attack\n"
                       << "storage: " << (dir / "runs/store.sqlite").string() << "\n"
                       << "artifacts: " << (dir / "artifacts").string() << "\n"
                       << "trainer: {type: curve, epoch_time: 0.25s, noise: 0.01}\n"
                       << "objective: {metric: val_accuracy, direction: maximize}\n"
                       << "budget: {trials: 10, epochs: 4}\n"
                       << "resources: {max_retries: 10}\n"
                       << "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n";
  return study;
}

struct JoinInfo {
  int port = 0;
  std::string endpoint;
  std::string secret;
};

// Where the run says workers may join, and the token they need.
JoinInfo ReadJoinInfo(const fs::path& output) {
  const std::regex join("ensweep worker --connect (\\S+):(\\d+) --token-file (\\S+)\\)");
  std::smatch match;
  std::string text;
  for (int i = 0; i < 1200 && !std::regex_search(text, match, join); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    text = ReadFile(output);
  }
  REQUIRE(std::regex_search(text, match, join));
  return JoinInfo{std::stoi(match[2]), "127.0.0.1:" + std::string(match[2]),
                  ReadTokenFile(match[3])};
}

void CheckUnauthenticatedAttacks(int port, const std::string& endpoint) {
  // Unauthenticated: nothing but the challenge comes back, never the study.
  const std::vector<std::string> raw_attacks = {
      std::string("\x03\xff\xff\xff", 4),                      // 64 MiB claimed
      std::string("\x7f\xff\xff\xff", 4) + "xyz",              // 2 GiB claimed
      FrameOf(EncodeMessage(ValidHello("no-auth"))),           // HELLO first
      FrameOf("{\"type\":\"AUTH\",\"nonce\":5,\"mac\":[1]}"),  // wrong types
      FrameOf("{\"type\":\"AUTH\",\"nonce\":\"00\",\"mac\":\"" + std::string(64, '0') + "\"}"),
      FrameOf("not json at all"),
      std::string("\x00\x00\x00\x10{\"type\"", 11),  // truncated
      std::string(),                                 // silent
  };
  for (const std::string& attack : raw_attacks) {
    const std::string received = RawExchange(port, attack);
    INFO("received: " << received);
    CHECK(received.find("\"study\"") == std::string::npos);
    CHECK(received.find("WELCOME") == std::string::npos);
  }
  // A wrong token is refused by the handshake.
  CHECK_THROWS(ConnectTcp(endpoint, std::string(64, '0')));
}

void CheckAttacksBeforeHello(const std::string& endpoint, const std::string& secret) {
  const std::vector<Message> before_hello = {
      Raw("HELLO", {{"protocol", "1"}, {"name", "a"}, {"host", "h"}, {"pid", 1}}),
      Raw("HELLO", {{"protocol", kProtocolVersion}, {"name", 5}, {"host", "h"}, {"pid", 1}}),
      Raw("HELLO", {{"protocol", kProtocolVersion}, {"name", "a"}, {"host", "h"}, {"pid", "x"}}),
      Raw("HELLO",
          {{"protocol", kProtocolVersion}, {"name", "a"}, {"host", Json::array({1})}, {"pid", 1}}),
      Raw("READY", {{"device", "cpu"}}),  // before HELLO
      Raw("NONSENSE", Json::object()),
  };
  for (const Message& attack : before_hello) {
    auto channel = ConnectTcp(endpoint, secret);
    channel->Send(attack);
    INFO(EncodeMessage(attack));
    CHECK(!ReceiveType(*channel, "WELCOME"));
  }
}

// Broken messages sent after a valid HELLO and READY, so that the coordinator may hand the peer
// a trial first; each gets the trial the peer holds (0 if none).
std::vector<std::function<Message(int64_t)>> HoldingAttacks() {
  return {
      [](int64_t) {
        return Raw("READY", {{"device", 5}});
      },
      [](int64_t t) {
        return Raw("REPORT",
                   {{"trial", std::to_string(t)}, {"epoch", 1}, {"metrics", Json::object()}});
      },
      [](int64_t t) {
        return Raw("REPORT", {{"trial", t}, {"epoch", "1"}, {"metrics", Json::object()}});
      },
      [](int64_t t) {
        return Raw("DONE", {{"trial", t},
                            {"metrics", {{"val_accuracy", 1e300}}},
                            {"artifacts", Json::array({1})},
                            {"epochs", 4},
                            {"stopped_early", false}});
      },
      [](int64_t t) {
        return Raw("DONE", {{"trial", t},
                            {"metrics", {{"val_accuracy", 1e300}}},
                            {"artifacts", Json::array()},
                            {"epochs", 4},
                            {"stopped_early", "no"}});
      },
      [](int64_t t) {
        return Raw("FAIL", {{"trial", t}, {"error", 5}});
      },
      [](int64_t t) {
        return msg::Encode(msg::Done{t,
                                     {{"val_accuracy", 1e300}},
                                     {ArtifactRecord{"model", "/etc/shadow", 1, "x"}},
                                     4,
                                     false});
      },
      [](int64_t t) {
        return msg::Encode(msg::Done{t,
                                     {{"val_accuracy", 1e300}},
                                     {ArtifactRecord{"model", "../../escape.pt", 1, "x"}},
                                     4,
                                     false});
      },
      [](int64_t) { return ValidHello("again"); },  // a second HELLO
  };
}

// Runs each holding attack on its own authenticated connection; returns how many were made
// while holding a trial.
int RunHoldingAttacks(const std::string& endpoint, const std::string& secret,
                      const std::vector<std::function<Message(int64_t)>>& holding) {
  int held = 0;
  for (size_t i = 0; i < holding.size(); ++i) {
    auto channel = ConnectTcp(endpoint, secret);
    channel->SetReceiveTimeout(std::chrono::seconds(5));
    channel->Send(ValidHello("rogue-" + std::to_string(i)));
    REQUIRE(ReceiveType(*channel, "WELCOME"));
    int64_t trial = 0;
    if (i > 0) {  // the first case sends a bad READY instead
      channel->Send(msg::Encode(msg::Ready{"cpu", false}));
      // A trial to hold, if one is left to hand out within a second or two.
      channel->SetReceiveTimeout(std::chrono::milliseconds(2500));
      if (const auto run_message = ReceiveType(*channel, "RUN")) {
        trial = msg::DecodeRun(*run_message).trial;
        ++held;
      }
      channel->SetReceiveTimeout(std::chrono::seconds(5));
    }
    const Message attack = holding[i](trial);
    INFO(EncodeMessage(attack));
    try {
      channel->Send(attack);
    } catch (const ChannelClosed&) {
      // The coordinator may have dropped an idle rogue first; the attack is refused either way.
    }
    CHECK(ClosedByCoordinator(*channel));
  }

  return held;
}

}  // namespace

TEST_CASE("the coordinator survives attacks on its port and stores every trial",
          "[e2e][protocol][attack]") {
  const fs::path dir = FreshDir("protocol_attack");
  const pid_t run = StartRun(WriteAttackStudy(dir), 1, dir / "run.txt");
  const JoinInfo join = ReadJoinInfo(dir / "run.txt");
  CheckUnauthenticatedAttacks(join.port, join.endpoint);
  // Authenticated peers that break the protocol, each on its own connection.
  CheckAttacksBeforeHello(join.endpoint, join.secret);
  const auto holding = HoldingAttacks();
  const int held = RunHoldingAttacks(join.endpoint, join.secret, holding);

  const int status = WaitExit(run, std::chrono::seconds(240));
  const std::string output = ReadFile(dir / "run.txt");
  INFO(output);
  REQUIRE(status == 0);
  CHECK(held > 0);  // at least one attack was made while holding a trial
  const StoredStudy stored = ReadStudy(dir, "attack");
  REQUIRE(stored.trials.size() == 10);
  for (const TrialRecord& trial : stored.trials) {
    INFO("trial " << trial.number << ": " << trial.error);
    CHECK(trial.state == TrialState::kComplete);
    REQUIRE(trial.value);
    CHECK(*trial.value < 1.5);  // the rogues' 1e300 was never recorded
  }
  SQLite::Database db((dir / "runs/store.sqlite").string(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM artifacts WHERE path LIKE '%shadow%' OR path LIKE "
                      "'%escape%'")
            .getInt() == 0);
  // One row per connection that said HELLO once: the honest worker and the rogues after HELLO.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM workers").getInt() ==
        1 + static_cast<int>(holding.size()));
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}
