#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "collective/collective.h"
#include "collective/tcp_wire.h"
#include "tests/collective/gang_harness.h"

namespace ensweep::collective {
namespace {

using testing::Board;
using testing::Message;
using testing::OnThreads;
using testing::RawMember;

GangInfo Gang(int rank, int size) {
  GangInfo gang;
  gang.rank = rank;
  gang.size = size;
  gang.key = "study/7/0";
  gang.advertise_host = "127.0.0.1";
  return gang;
}

Options Timeout(int64_t ms) {
  Options options;
  options.timeout = std::chrono::milliseconds(ms);
  return options;
}

// Rank 0's address and secret, as a joiner reads them from the blob.
struct Address {
  std::string host;
  int port = 0;
  std::string secret;  // raw bytes
};

Address ReadBlob(const std::string& text) {
  const auto blob = nlohmann::json::parse(text);
  Address a{blob.at("host"), blob.at("port"), ""};
  const std::string hex = blob.at("secret");
  for (size_t i = 0; i < hex.size(); i += 2)
    a.secret.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return a;
}

// Values spread over many binades, so that adding them in another order changes the bits.
template <typename T>
std::vector<T> SpreadValues(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::vector<T> out(count);
  for (auto& v : out) v = static_cast<T>(std::ldexp(mantissa(rng), exponent(rng)));
  return out;
}

template <typename T>
void CheckRankOrderSum(int members, size_t count, DType dtype) {
  std::vector<std::vector<T>> data;
  for (int r = 0; r < members; ++r) data.push_back(SpreadValues<T>(count, 17 + r));
  std::vector<T> serial = data[0], reversed = data[members - 1];
  for (int r = 1; r < members; ++r)
    for (size_t i = 0; i < count; ++i) serial[i] += data[r][i];
  for (int r = members - 2; r >= 0; --r)
    for (size_t i = 0; i < count; ++i) reversed[i] += data[r][i];
  // Two addends commute; from three on, the order of the additions shows in the bits.
  if (members >= 3) REQUIRE(std::memcmp(serial.data(), reversed.data(), count * sizeof(T)) != 0);

  Board board;
  const auto errors = OnThreads(members, [&](int r) {
    auto group = ConnectTcp(Gang(r, members), board.For(r), Timeout(60000));
    group->AllReduceSum(data[r].data(), count, dtype);
  });
  for (int r = 0; r < members; ++r) {
    INFO("member " << r << ": " << Message(errors[r]));
    CHECK_FALSE(errors[r]);
    CHECK(std::memcmp(data[r].data(), serial.data(), count * sizeof(T)) == 0);
  }
}

TEST_CASE("a TCP group adds in rank order: every member gets the bits of a serial sum",
          "[collective][tcp]") {
  const int members = GENERATE(2, 3);
  SECTION("float32 over more than one chunk") {
    CheckRankOrderSum<float>(members, tcp::kChunkBytes / sizeof(float) + 1234, DType::kFloat32);
  }
  SECTION("float64") { CheckRankOrderSum<double>(members, 5000, DType::kFloat64); }
}

TEST_CASE("a TCP broadcast copies the root's bytes to every member, from rank 0 or another root",
          "[collective][tcp]") {
  const int root = GENERATE(0, 2);
  const size_t bytes = tcp::kChunkBytes + 77;
  std::vector<std::vector<char>> data(3, std::vector<char>(bytes));
  for (int r = 0; r < 3; ++r)
    for (size_t i = 0; i < bytes; ++i) data[r][i] = static_cast<char>(i * (r + 3));
  const std::vector<char> expected = data[root];
  Board board;
  const auto errors = OnThreads(3, [&](int r) {
    auto group = ConnectTcp(Gang(r, 3), board.For(r), Timeout(60000));
    group->Broadcast(data[r].data(), bytes, root);
  });
  for (int r = 0; r < 3; ++r) {
    INFO("member " << r << ": " << Message(errors[r]));
    CHECK_FALSE(errors[r]);
    CHECK(data[r] == expected);
  }
}

TEST_CASE("no member leaves a TCP barrier before every member has reached it",
          "[collective][tcp]") {
  std::atomic<int> arrived{0};
  std::vector<int> seen(3, -1);
  Board board;
  const auto errors = OnThreads(3, [&](int r) {
    auto group = ConnectTcp(Gang(r, 3), board.For(r), Timeout(60000));
    ++arrived;
    group->Barrier();
    seen[r] = arrived.load();
  });
  for (int r = 0; r < 3; ++r) {
    CHECK_FALSE(errors[r]);
    CHECK(seen[r] == 3);
  }
}

TEST_CASE(
    "rank 0 refuses a joiner with the wrong secret and still forms the gang with the right one",
    "[collective][tcp]") {
  Board board;
  std::string refused;
  std::vector<double> values = {1.5, 2.5};
  const auto errors = OnThreads(2, [&](int r) {
    if (r == 0) {
      auto group = ConnectTcp(Gang(0, 2), board.For(0), Timeout(60000));
      group->AllReduceSum(values.data(), 1, DType::kFloat64);
      return;
    }
    const std::string blob = board.Wait();
    auto forged = nlohmann::json::parse(blob);
    std::string secret = forged["secret"];
    secret[0] = secret[0] == '0' ? '1' : '0';
    forged["secret"] = secret;
    try {
      ConnectTcp(
          Gang(1, 2), [&](const std::string&) { return forged.dump(); }, Timeout(60000));
    } catch (const std::runtime_error& e) {
      refused = e.what();
    }
    auto group = ConnectTcp(
        Gang(1, 2), [&](const std::string&) { return blob; }, Timeout(60000));
    group->AllReduceSum(values.data() + 1, 1, DType::kFloat64);
  });
  CHECK_FALSE(errors[0]);
  CHECK_FALSE(errors[1]);
  CHECK_THAT(refused, Catch::Contains("refused") && Catch::Contains("wrong secret"));
  CHECK(values[0] == 4.0);
  CHECK(values[1] == 4.0);
}

TEST_CASE(
    "rank 0 refuses an oversize hello, and a member that announces an oversize frame breaks "
    "the collective with an error on every member",
    "[collective][tcp]") {
  Board board;
  std::vector<std::vector<float>> data(2, std::vector<float>(10, 1.0f));
  uint32_t answer_to_oversize_hello = 0;
  const auto errors = OnThreads(3, [&](int r) {
    if (r < 2) {
      auto group = ConnectTcp(Gang(r, 3), board.For(r), Timeout(60000));
      group->AllReduceSum(data[r].data(), 10, DType::kFloat32);
      return;
    }
    const Address rank0 = ReadBlob(board.Wait());
    {
      RawMember greedy(rank0.host, rank0.port);
      greedy.SendFrame(tcp::kHello, uint64_t{1} << 30);
      answer_to_oversize_hello = greedy.ReadFrameKind();
    }
    RawMember liar(rank0.host, rank0.port);
    liar.SendFrame(tcp::kHello, tcp::kHelloBytes, tcp::EncodeHello(2, 3, rank0.secret));
    REQUIRE(liar.ReadFrameKind() == tcp::kWelcome);
    liar.SendFrame(tcp::kSum, uint64_t{1} << 40);
    // Rank 0 refuses the frame and closes every connection, this one included.
    CHECK_THROWS(liar.ReadFrameKind());
  });
  CHECK(answer_to_oversize_hello == tcp::kRefused);
  CHECK_THAT(Message(errors[0]), Catch::Contains("tcp: all-reduce failed on member 0") &&
                                     Catch::Contains("bytes instead of 40") &&
                                     Catch::Contains("member 2"));
  CHECK_THAT(Message(errors[1]), Catch::Contains("tcp: all-reduce failed on member 1") &&
                                     Catch::Contains("closed") && Catch::Contains("rank 0"));
  CHECK_FALSE(errors[2]);
}

TEST_CASE(
    "a member that dies in the middle of a frame makes the others' all-reduce throw, not hang",
    "[collective][tcp]") {
  Board board;
  std::vector<std::vector<float>> data(2, std::vector<float>(1000, 1.0f));
  const auto errors = OnThreads(3, [&](int r) {
    if (r < 2) {
      // A limit far above the test's duration: the loss, not the timeout, must end the call.
      auto group = ConnectTcp(Gang(r, 3), board.For(r), Timeout(600000));
      group->AllReduceSum(data[r].data(), 1000, DType::kFloat32);
      return;
    }
    const Address rank0 = ReadBlob(board.Wait());
    RawMember dying(rank0.host, rank0.port);
    dying.SendFrame(tcp::kHello, tcp::kHelloBytes, tcp::EncodeHello(2, 3, rank0.secret));
    REQUIRE(dying.ReadFrameKind() == tcp::kWelcome);
    dying.SendFrame(tcp::kSum, 4000, std::vector<uint8_t>(1000, 0));
    dying.Close();
  });
  CHECK_THAT(Message(errors[0]), Catch::Contains("connection closed with member 2"));
  CHECK_THAT(Message(errors[1]), Catch::Contains("connection closed with rank 0"));
}

TEST_CASE("a member that stays silent makes the all-reduce time out, and the group stays broken",
          "[collective][tcp]") {
  Board board;
  float value = 1;
  std::unique_ptr<Group> rank0;
  const auto errors = OnThreads(2, [&](int r) {
    if (r == 0) {
      Options options = Timeout(200);
      options.form_timeout = std::chrono::minutes(1);  // joining is not what is tested here
      rank0 = ConnectTcp(Gang(0, 2), board.For(0), options);
      rank0->AllReduceSum(&value, 1, DType::kFloat32);
      return;
    }
    const Address address = ReadBlob(board.Wait());
    RawMember silent(address.host, address.port);
    silent.SendFrame(tcp::kHello, tcp::kHelloBytes, tcp::EncodeHello(1, 2, address.secret));
    REQUIRE(silent.ReadFrameKind() == tcp::kWelcome);
    CHECK_THROWS(silent.ReadFrameKind());  // rank 0 closes the connection when it gives up
  });
  CHECK_THAT(Message(errors[0]), Catch::Contains("timed out") && Catch::Contains("member 1"));
  REQUIRE(rank0);
  CHECK_THROWS_WITH(rank0->Barrier(), Catch::Contains("all-reduce failed"));
}

TEST_CASE("rank 0 gives up when the gang's members do not all join in time", "[collective][tcp]") {
  Board board;
  CHECK_THROWS_WITH(
      ConnectTcp(Gang(0, 3), board.For(0), Timeout(100)),
      Catch::Contains("tcp: timed out waiting for the gang's members to join (1 of 3"));
}

TEST_CASE("a joiner refuses rank 0's blob when it names another backend, gang size or attempt",
          "[collective][tcp]") {
  const auto blob = [](const std::string& text) {
    return [text](const std::string&) { return text; };
  };
  CHECK_THROWS_WITH(ConnectTcp(Gang(1, 2), blob(R"({"backend":"nccl","id":"00"})")),
                    Catch::Contains("rank 0 formed a nccl communicator"));
  CHECK_THROWS_WITH(ConnectTcp(Gang(1, 2), blob(R"({"backend":"tcp","size":3})")),
                    Catch::Contains("3 members"));
  CHECK_THROWS_WITH(ConnectTcp(Gang(1, 2), blob("not json")), Catch::Contains("not JSON"));
  CHECK_THROWS_WITH(ConnectTcp(Gang(1, 2), blob(R"({"backend":"tcp","size":2,"key":"study/7/1"})")),
                    Catch::Contains("for gang study/7/1 (another attempt)"));
}

TEST_CASE("a TCP gang of one member opens no socket and its collectives leave the data alone",
          "[collective][tcp]") {
  auto group = ConnectTcp(Gang(0, 1), [](const std::string&) -> std::string {
    throw std::logic_error("a gang of one needs no rendezvous");
  });
  double value = 2.5;
  group->AllReduceSum(&value, 1, DType::kFloat64);
  group->Barrier();
  CHECK(value == 2.5);
  CHECK(group->backend() == "tcp");
}

}  // namespace
}  // namespace ensweep::collective
