// The study file's ensemble: block (core/study.h EnsembleSpec), as `ensweep
// ensemble` reads it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/study.h"
#include "tests/scratch_dir.h"

namespace fs = std::filesystem;
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
                                {"one_per", {"backbone", "head"}},
                                {"tta", "hflip"},
                                {"seed", 9}});
  const EnsembleSpec& e = spec.ensemble;
  CHECK(e.method == EnsembleMethod::kGreedy);
  CHECK(e.candidates == 30);
  CHECK(e.rounds == 50);
  CHECK(e.init == 3);
  CHECK(e.bags == 4);
  CHECK(e.bag_fraction == 0.7);
  CHECK(e.metric == EnsembleMetric::kLogLoss);
  CHECK(e.top_n == 5);
  CHECK(e.include_pruned);
  CHECK(e.one_per_backbone);
  CHECK(e.one_per == std::vector<std::string>{"backbone", "head"});
  CHECK(e.tta == EnsembleTta::kHflip);
  CHECK(e.seed == 9);
  // The normalised spec (stored with the study) reads back the same.
  const StudySpec again = StudyFromJson(spec.ToJson());
  CHECK(again.ensemble.rounds == 50);
  CHECK(again.ensemble.metric == EnsembleMetric::kLogLoss);
  CHECK(again.ensemble.one_per_backbone);
  CHECK(again.ensemble.one_per == e.one_per);
  CHECK(again.ensemble.tta == EnsembleTta::kHflip);
  CHECK(Parse(Json::object()).ensemble.one_per.empty());
  CHECK(Parse({{"method", "weights"}}).ensemble.method == EnsembleMethod::kWeights);
  CHECK(Parse(Json::object()).ensemble.rounds == 25);
}

TEST_CASE("a bad ensemble setting names its key", "[ensemble][spec]") {
  CHECK_THAT(ParseError({{"method", "stacking"}}), Catch::Contains("ensemble.method"));
  CHECK_THAT(ParseError({{"bag_fraction", 0}}), Catch::Contains("ensemble.bag_fraction"));
  CHECK_THAT(ParseError({{"metric", "auc"}}), Catch::Contains("ensemble.metric"));
  CHECK_THAT(ParseError({{"rounds", 0}}), Catch::Contains("ensemble.rounds"));
  CHECK_THAT(ParseError({{"bagz", 2}}), Catch::Contains("bagz"));
  CHECK_THAT(ParseError({{"one_per", "backbone"}}), Catch::Contains("'ensemble.one_per'"));
  CHECK_THAT(ParseError({{"one_per", Json::array()}}), Catch::Contains("'ensemble.one_per'"));
  CHECK_THAT(ParseError({{"one_per", {"backbone", 3}}}), Catch::Contains("'ensemble.one_per[1]'"));
  CHECK_THAT(ParseError({{"one_per", {"head", "head"}}}), Catch::Contains("listed twice"));
  CHECK_THAT(ParseError({{"tta", "vflip"}}), Catch::Contains("ensemble.tta"));
}

TEST_CASE("a bad one_per in a study file names the file, line and key path", "[ensemble][spec]") {
  const fs::path dir = test::FreshDir("ensweep_spec", "one_per");
  const fs::path file = dir / "study.yaml";
  std::ofstream(file) << "study: demo\n"
                         "data: {train: data/train}\n"
                         "ensemble:\n"
                         "  method: greedy\n"
                         "  one_per: [backbone, {head: 1}]\n";
  try {
    LoadStudyFile(file.string());
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains(file.string() + ":5: 'ensemble.one_per[1]'"));
    CHECK_THAT(e.what(), Catch::Contains("non-empty string"));
  }
  std::ofstream(file) << "study: demo\n"
                         "data: {train: data/train}\n"
                         "ensemble: {one_per: [backbone, head]}\n";
  CHECK(LoadStudyFile(file.string()).ensemble.one_per ==
        std::vector<std::string>{"backbone", "head"});
}
