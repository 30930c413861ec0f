// The study file's ensemble: block (core/study.h EnsembleSpec), as `ensweep ensemble` reads it.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/study.h"

using namespace ensweep;

namespace {

StudySpec Parse(const Json& ensemble) {
  Json doc = {{"study", "demo"}, {"data", {{"train", "data/train"}}}, {"ensemble", ensemble}};
  return ParseStudy(doc, "study.yaml", "/tmp");
}

std::string ParseError(const Json& ensemble) {
  try {
    Parse(ensemble);
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError");
  return "";
}

}  // namespace

TEST_CASE("the ensemble block accepts every method and selection setting", "[ensemble][spec]") {
  const StudySpec spec = Parse({{"method", "greedy"},
                                {"candidates", 30},
                                {"rounds", 50},
                                {"init", 3},
                                {"bags", 4},
                                {"bag_fraction", 0.7},
                                {"metric", "log_loss"},
                                {"top_n", 5},
                                {"include_pruned", true},
                                {"one_per_backbone", true},
                                {"seed", 9}});
  const EnsembleSpec& e = spec.ensemble;
  CHECK(e.method == "greedy");
  CHECK(e.candidates == 30);
  CHECK(e.rounds == 50);
  CHECK(e.init == 3);
  CHECK(e.bags == 4);
  CHECK(e.bag_fraction == 0.7);
  CHECK(e.metric == "log_loss");
  CHECK(e.top_n == 5);
  CHECK(e.include_pruned);
  CHECK(e.one_per_backbone);
  CHECK(e.seed == 9);
  // The normalised spec (stored with the study) reads back the same.
  const StudySpec again = StudyFromJson(spec.ToJson());
  CHECK(again.ensemble.rounds == 50);
  CHECK(again.ensemble.metric == "log_loss");
  CHECK(again.ensemble.one_per_backbone);
  CHECK(Parse({{"method", "weights"}}).ensemble.method == "weights");
  CHECK(Parse(Json::object()).ensemble.rounds == 25);
}

TEST_CASE("a bad ensemble setting names its key", "[ensemble][spec]") {
  CHECK_THAT(ParseError({{"method", "stacking"}}), Catch::Contains("ensemble.method"));
  CHECK_THAT(ParseError({{"bag_fraction", 0}}), Catch::Contains("ensemble.bag_fraction"));
  CHECK_THAT(ParseError({{"metric", "auc"}}), Catch::Contains("ensemble.metric"));
  CHECK_THAT(ParseError({{"rounds", 0}}), Catch::Contains("ensemble.rounds"));
  CHECK_THAT(ParseError({{"bagz", 2}}), Catch::Contains("bagz"));
}
