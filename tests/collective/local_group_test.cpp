#include <catch2/catch.hpp>

#include "collective/collective.h"
#include "tests/collective/gang_harness.h"

namespace ensweep::collective {
namespace {

using testing::Message;
using testing::OnThreads;

TEST_CASE("a local group sums in rank order and broadcasts from any root", "[collective][local]") {
  auto groups = MakeLocalGroups(3);
  // 1e8 + 1 - 1e8 in float: 0 when added in rank order (the 1 is lost), 1 in the reverse order.
  std::vector<std::vector<float>> sums = {{1e8f, 2}, {1, 3}, {-1e8f, 4}};
  std::vector<std::vector<int>> shared = {{1, 1}, {2, 2}, {3, 3}};
  const auto errors = OnThreads(3, [&](int r) {
    groups[r]->AllReduceSum(sums[r].data(), 2, DType::kFloat32);
    groups[r]->Broadcast(shared[r].data(), 2 * sizeof(int), 1);
    groups[r]->Barrier();
  });
  for (int r = 0; r < 3; ++r) {
    INFO(Message(errors[r]));
    CHECK_FALSE(errors[r]);
    CHECK(sums[r] == std::vector<float>{0, 9});
    CHECK(shared[r] == std::vector<int>{2, 2});
  }
}

TEST_CASE("a local member that leaves makes the others' collectives throw", "[collective][local]") {
  auto groups = MakeLocalGroups(2);
  const auto errors = OnThreads(2, [&](int r) {
    if (r == 1) {
      groups[1].reset();
      return;
    }
    groups[0]->Barrier();
  });
  CHECK_THAT(Message(errors[0]), Catch::Contains("local: member 1 left the group"));
}

TEST_CASE("local members that call different collectives get an error, not a mixed result",
          "[collective][local]") {
  auto groups = MakeLocalGroups(2);
  double value = 1;
  const auto errors = OnThreads(2, [&](int r) {
    if (r == 0)
      groups[0]->AllReduceSum(&value, 1, DType::kFloat64);
    else
      groups[1]->Barrier();
  });
  for (const auto& e : errors) CHECK_THAT(Message(e), Catch::Contains("different collectives"));
}

}  // namespace
}  // namespace ensweep::collective
