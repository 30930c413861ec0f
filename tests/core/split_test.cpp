#include "core/split.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

using namespace ensweep;

namespace {

// 7 photos a person, 60 persons in 3 strata.
void MakeListing(std::vector<std::string>& groups, std::vector<int>& strata) {
  for (int p = 0; p < 60; ++p) {
    for (int photo = 0; photo < 7; ++photo) {
      groups.push_back("person" + std::to_string(p));
      strata.push_back(p % 3);
    }
  }
}

}  // namespace

TEST_CASE("a person-level split never puts one person on both sides", "[core][split]") {
  std::vector<std::string> groups;
  std::vector<int> strata;
  MakeListing(groups, strata);
  const SplitIndices split = GroupSplit(groups, strata, 0.2, 42);
  std::set<std::string> train_people, val_people;
  for (auto i : split.train) train_people.insert(groups[i]);
  for (auto i : split.val) val_people.insert(groups[i]);
  for (const auto& p : val_people) CHECK(train_people.count(p) == 0);
  CHECK(split.train.size() + split.val.size() == groups.size());
  CHECK(val_people.size() == 12);  // 20 % of each stratum of 20 persons
  std::map<int, int> val_per_stratum;
  for (const auto& p : val_people) ++val_per_stratum[std::stoi(p.substr(6)) % 3];
  CHECK(val_per_stratum[0] == 4);
  CHECK(val_per_stratum[1] == 4);
  CHECK(val_per_stratum[2] == 4);
}

TEST_CASE("a split depends only on the listing and the seed", "[core][split]") {
  std::vector<std::string> groups;
  std::vector<int> strata;
  MakeListing(groups, strata);
  CHECK(GroupSplit(groups, strata, 0.2, 1).val == GroupSplit(groups, strata, 0.2, 1).val);
  CHECK(GroupSplit(groups, strata, 0.2, 1).val != GroupSplit(groups, strata, 0.2, 2).val);
}

TEST_CASE("k person-level folds cover every person once and never share one", "[core][split]") {
  std::vector<std::string> groups;
  std::vector<int> strata;
  MakeListing(groups, strata);
  const auto folds = GroupKFold(groups, strata, 5, 9);
  REQUIRE(folds.size() == 5);
  std::map<std::string, int> times_in_val;
  for (const auto& fold : folds) {
    std::set<std::string> val_people;
    for (auto i : fold.val) val_people.insert(groups[i]);
    for (auto i : fold.train) CHECK(val_people.count(groups[i]) == 0);
    for (const auto& p : val_people) ++times_in_val[p];
    CHECK(val_people.size() == 12);
  }
  CHECK(times_in_val.size() == 60);
  for (const auto& [person, times] : times_in_val) CHECK(times == 1);
}

TEST_CASE("an image-level split ignores persons", "[core][split]") {
  const SplitIndices split = ItemSplit(100, 0.25, 0);
  CHECK(split.val.size() == 25);
  CHECK(split.train.size() == 75);
}
