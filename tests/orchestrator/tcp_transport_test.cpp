#include "orchestrator/tcp_transport.h"

#include <catch2/catch.hpp>
#include <thread>

using namespace ensweep;

namespace {

TransportEvent WaitEvent(CoordinatorTransport& t) {
  for (int i = 0; i < 100; ++i) {
    if (auto e = t.Poll(std::chrono::milliseconds(50))) return *e;
  }
  FAIL("no event within 5 s");
  return {};
}

}  // namespace

TEST_CASE("TCP frames carry messages both ways and a closed worker is reported lost",
          "[orchestrator][tcp]") {
  TcpCoordinatorTransport coordinator("127.0.0.1", 0);
  CHECK(coordinator.Endpoint().rfind("127.0.0.1:", 0) == 0);
  auto worker = ConnectTcp(coordinator.Endpoint(), std::chrono::seconds(5));
  worker->Send(Message{msg::kHello, {{"name", "w"}, {"payload", std::string(100000, 'x')}}});
  const TransportEvent hello = WaitEvent(coordinator);
  REQUIRE(hello.kind == TransportEvent::Kind::kMessage);
  CHECK(hello.message.type == msg::kHello);
  CHECK(hello.message.body["payload"].get<std::string>().size() == 100000);

  coordinator.Send(hello.peer, Message{msg::kRun, {{"trial", 7}}});
  const Message run = worker->Receive();
  CHECK(run.type == msg::kRun);
  CHECK(run.body["trial"] == 7);

  worker.reset();
  const TransportEvent lost = WaitEvent(coordinator);
  CHECK(lost.kind == TransportEvent::Kind::kLost);
  CHECK(lost.peer == hello.peer);
}

TEST_CASE("a worker channel reports the coordinator's departure", "[orchestrator][tcp]") {
  auto coordinator = std::make_unique<TcpCoordinatorTransport>("127.0.0.1", 0);
  auto worker = ConnectTcp(coordinator->Endpoint(), std::chrono::seconds(5));
  worker->Send(Message{msg::kHello, {}});
  WaitEvent(*coordinator);
  coordinator.reset();
  CHECK_THROWS_AS(worker->Receive(), ChannelClosed);
}

TEST_CASE("connecting to nothing fails with a clear error", "[orchestrator][tcp]") {
  CHECK_THROWS_WITH(ConnectTcp("127.0.0.1:1", std::chrono::milliseconds(300)),
                    Catch::Contains("cannot connect to coordinator at 127.0.0.1:1"));
}

TEST_CASE("messages encode as JSON with a type and reject malformed text",
          "[orchestrator][protocol]") {
  const Message m{msg::kReport, {{"trial", 3}, {"epoch", 1}}};
  const Message back = DecodeMessage(EncodeMessage(m));
  CHECK(back.type == msg::kReport);
  CHECK(back.body == m.body);
  CHECK_THROWS_AS(DecodeMessage("[1,2]"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("{\"no_type\": 1}"), ProtocolError);
  CHECK_THROWS_AS(DecodeMessage("not json"), ProtocolError);
}
