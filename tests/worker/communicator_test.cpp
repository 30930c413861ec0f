#include <functional>
#include <future>
#include <thread>
#include <vector>

// LibTorch defines a glog-style CHECK macro; include it first and drop that macro so that
// Catch's CHECK is the one in force.
#include "worker/communicator.h"
#undef CHECK

#include <catch2/catch.hpp>

namespace ensweep {
namespace {

// Runs body(rank, communicator) on one thread per member; rethrows the first failure.
void OnEveryMember(std::vector<std::unique_ptr<Communicator>>& group,
                   const std::function<void(int, Communicator&)>& body) {
  std::vector<std::exception_ptr> errors(group.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < group.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        body(static_cast<int>(r), *group[r]);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Member r's tensors: the same shapes on every member, values that depend on the rank and the
// generator's seed.
std::vector<torch::Tensor> MemberTensors(int rank) {
  torch::manual_seed(1000 + rank);
  return {torch::randn({3, 5}),    torch::randn({700}, torch::kFloat64),
          torch::randn({2, 2, 2}), torch::randn({1000}),
          torch::randn({}),        torch::randn({64})};
}

TEST_CASE("AllReduceSum over a local group gives every member the rank-order sum of every tensor",
          "[communicator]") {
  const int members = 3;
  CommOptions options;
  options.bucket_bytes = 1024;  // several buckets, one tensor (the 1000 floats) larger than one
  auto group = MakeLocalGroup(members, options);
  std::vector<std::vector<torch::Tensor>> tensors(members);
  for (int r = 0; r < members; ++r) tensors[r] = MemberTensors(r);
  std::vector<torch::Tensor> expected;
  for (size_t i = 0; i < tensors[0].size(); ++i) {
    torch::Tensor sum = tensors[0][i].clone();
    for (int r = 1; r < members; ++r) sum += tensors[r][i];
    expected.push_back(sum);
  }

  OnEveryMember(group, [&](int r, Communicator& comm) { comm.AllReduceSum(tensors[r]); });

  for (int r = 0; r < members; ++r)
    for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::equal(tensors[r][i], expected[i]));
  const CommStats stats = group[1]->stats();
  CHECK(stats.allreduce_calls == 1);
  CHECK(stats.allreduce_bytes == (15 + 8 + 1000 + 1 + 64) * 4 + 700 * 8);
  CHECK(group[0]->backend() == "local");
  CHECK(group[2]->rank() == 2);
  CHECK(group[2]->size() == members);
}

TEST_CASE("Broadcast copies the root's tensors of any dtype into every member's",
          "[communicator]") {
  CommOptions options;
  options.bucket_bytes = 16;
  auto group = MakeLocalGroup(2, options);
  std::vector<std::vector<torch::Tensor>> tensors(2);
  for (int r = 0; r < 2; ++r)
    tensors[r] = {torch::full({4}, r + 1, torch::kInt64), torch::full({3, 3}, 0.5 * r),
                  torch::full({5}, r == 1, torch::kBool)};

  OnEveryMember(group, [&](int, Communicator& comm) {
    comm.Broadcast(tensors[comm.rank()], 1);
    comm.Barrier();
  });

  for (size_t i = 0; i < tensors[1].size(); ++i) CHECK(torch::equal(tensors[0][i], tensors[1][i]));
  CHECK(tensors[0][0][0].item<int64_t>() == 2);
}

TEST_CASE("AllReduceSum refuses integer and non-contiguous tensors", "[communicator]") {
  auto group = MakeLocalGroup(1);
  CHECK_THROWS_AS(group[0]->AllReduceSum({torch::ones({2}, torch::kInt32)}), std::invalid_argument);
  CHECK_THROWS_AS(group[0]->AllReduceSum({torch::ones({3, 4}).t()}), std::invalid_argument);
}

// A worker's context for one gang member: rank 0's blob is handed to the others through a
// shared future, as the coordinator's relay would.
class GangContext : public TrialContext {
 public:
  explicit GangContext(std::shared_ptr<std::promise<std::string>> published,
                       std::shared_future<std::string> blob)
      : published_(std::move(published)), blob_(std::move(blob)) {}
  bool ReportEpoch(const EpochReport&) override { return true; }
  void KeepAlive() override {}
  std::string Rendezvous(const std::string& blob) override {
    ++rendezvous_calls;
    if (!blob.empty()) {
      published_->set_value(blob);
      return blob;
    }
    if (blob_.wait_for(std::chrono::minutes(1)) != std::future_status::ready)
      throw std::runtime_error("test context: rank 0 never published its blob");
    return blob_.get();
  }
  int rendezvous_calls = 0;

 private:
  std::shared_ptr<std::promise<std::string>> published_;
  std::shared_future<std::string> blob_;
};

TEST_CASE("ConnectGang joins CPU workers over TCP through the context's rendezvous",
          "[communicator]") {
  auto published = std::make_shared<std::promise<std::string>>();
  const std::shared_future<std::string> blob = published->get_future().share();
  std::vector<GangContext> contexts(2, GangContext(published, blob));
  std::vector<std::unique_ptr<Communicator>> group(2);
  CommOptions options;
  options.bucket_bytes = 256;
  std::vector<std::vector<torch::Tensor>> tensors = {MemberTensors(0), MemberTensors(1)};
  std::vector<torch::Tensor> expected;
  for (size_t i = 0; i < tensors[0].size(); ++i) expected.push_back(tensors[0][i] + tensors[1][i]);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(2);
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        GangInfo gang;
        gang.size = 2;
        gang.rank = r;
        gang.key = "study/1/0";
        gang.advertise_host = "127.0.0.1";
        group[r] = ConnectGang(gang, contexts[r], torch::Device(torch::kCPU), options);
        group[r]->AllReduceSum(tensors[r]);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == std::vector<std::string>(2));
  REQUIRE(group[1]);
  CHECK(group[1]->backend() == "tcp");
  CHECK(contexts[1].rendezvous_calls == 1);
  for (int r = 0; r < 2; ++r)
    for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::equal(tensors[r][i], expected[i]));
}

TEST_CASE(
    "ConnectGang gives a gang of one a communicator without a rendezvous, and picks MPI "
    "when the members are MPI ranks",
    "[communicator]") {
  struct NoGangContext : TrialContext {
    bool ReportEpoch(const EpochReport&) override { return true; }
    void KeepAlive() override {}
  } context;
  GangInfo gang;
  auto alone = ConnectGang(gang, context, torch::Device(torch::kCPU));
  torch::Tensor t = torch::ones({3});
  alone->AllReduceSum({t});
  CHECK(torch::equal(t, torch::ones({3})));
  CHECK(alone->size() == 1);

  gang.size = 2;
  gang.mpi_ranks = {1, 2};
  CHECK_THROWS_WITH(ConnectGang(gang, context, torch::Device(torch::kCPU)),
                    Catch::Contains("mpi: "));
}

}  // namespace
}  // namespace ensweep
