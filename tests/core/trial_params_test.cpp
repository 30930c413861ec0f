#include "core/trial_params.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace ensweep {

using nlohmann::json;

TEST_CASE("trial parameters default to the documented values", "[core][params]") {
  for (const json& params : {json(nullptr), json::object()}) {
    const TrialParams p = ParseTrialParams(params, 4);
    CHECK(p.backbone == "custom_cnn");
    CHECK(p.optimizer == "sgd");
    CHECK(p.lr == 0.01);
    CHECK(p.weight_decay == 0.0);
    CHECK(p.momentum == 0.9);
    CHECK(p.flip_p == 0.5);
    CHECK(p.batch_size == 32);
    CHECK(p.epochs == 4);
  }
}

TEST_CASE("trial parameters are read from the sampled values", "[core][params]") {
  const TrialParams p = ParseTrialParams(json{{"backbone", "resnet18"},
                                              {"optimizer", "adam"},
                                              {"lr", 1e-3},
                                              {"weight_decay", 0.05},
                                              {"momentum", 0.0},
                                              {"flip_p", 0.6},
                                              {"batch_size", 64.0},
                                              {"epochs", 2}},
                                         10);
  CHECK(p.backbone == "resnet18");
  CHECK(p.optimizer == "adam");
  CHECK(p.lr == 1e-3);
  CHECK(p.weight_decay == 0.05);
  CHECK(p.momentum == 0.0);
  CHECK(p.flip_p == 0.6);
  CHECK(p.batch_size == 64);
  CHECK(p.epochs == 2);
}

TEST_CASE("an unknown trial parameter is rejected with the known names", "[core][params]") {
  REQUIRE_THROWS_AS(ParseTrialParams(json{{"learning_rate", 0.1}}, 1), std::invalid_argument);
  REQUIRE_THROWS_WITH(
      ParseTrialParams(json{{"learning_rate", 0.1}}, 1),
      Catch::Contains("'learning_rate'") && Catch::Contains("lr") && Catch::Contains("batch_size"));
}

TEST_CASE("bad trial parameter values are rejected with what was expected", "[core][params]") {
  const auto rejects = [](const json& params, const std::string& text) {
    INFO(params.dump());
    REQUIRE_THROWS_AS(ParseTrialParams(params, 1), std::invalid_argument);
    REQUIRE_THROWS_WITH(ParseTrialParams(params, 1), Catch::Contains(text));
  };
  rejects(json{{"backbone", "vgg16"}}, "resnet18");
  rejects(json{{"optimizer", "rmsprop"}}, "sgd");
  rejects(json{{"lr", 0}}, "> 0");
  rejects(json{{"lr", "fast"}}, "a number");
  rejects(json{{"batch_size", 0}}, ">= 1");
  rejects(json{{"batch_size", 2.5}}, "an integer");
  rejects(json{{"flip_p", 1.5}}, "[0, 1]");
  rejects(json{{"weight_decay", -1}}, ">= 0");
  rejects(json{{"momentum", 1.0}}, "[0, 1)");
  rejects(json{{"epochs", 0}}, ">= 1");
  rejects(json::array({1, 2}), "JSON object");
  rejects(json{{"head", "triple"}}, "single, multitask");
  rejects(json{{"optimizer", "lamb"}}, "adamw");
  rejects(json{{"schedule", "linear"}}, "constant, step, cosine");
  rejects(json{{"swa", "yes"}}, "true or false");
  rejects(json{{"label_smoothing", 1.0}}, "[0, 1)");
  rejects(json{{"crop_scale", 0.0}}, "(0, 1]");
  rejects(json{{"shift", 0.5}}, "[0, 0.5)");
  rejects(json{{"tta", "ten_crop"}}, "hflip");
  rejects(json{{"weights", ""}}, "weight file");
}

TEST_CASE("trial parameters that contradict each other are rejected", "[core][params]") {
  const auto rejects = [](const json& params, const std::string& text) {
    INFO(params.dump());
    REQUIRE_THROWS_WITH(ParseTrialParams(params, 4), Catch::Contains(text));
  };
  rejects(json{{"nesterov", true}, {"momentum", 0.0}}, "'momentum' > 0");
  rejects(json{{"warmup_epochs", 4}}, "fewer than the trial's 4 epochs");
  rejects(json{{"swa", true}, {"swa_start", 5}}, "at most the trial's 4 epochs");
  rejects(json{{"pretrained", true}, {"backbone", "resnet18"}}, "needs 'weights'");
  rejects(json{{"pretrained", true}, {"weights", "/w"}}, "custom_cnn has no pretrained");
  rejects(json{{"freeze_backbone", true}}, "needs 'pretrained'");
  const TrialParams p = ParseTrialParams(json{{"head", "multitask"},
                                              {"optimizer", "adamw"},
                                              {"swa", true},
                                              {"swa_start", 3},
                                              {"pretrained", true},
                                              {"backbone", "resnet34"},
                                              {"weights", "/w"},
                                              {"freeze_backbone", true},
                                              {"tta", "hflip"},
                                              {"schedule", "cosine"},
                                              {"warmup_epochs", 1}},
                                         4);
  CHECK(p.head == "multitask");
  CHECK(p.swa_start == 3);
  CHECK(p.weights == "/w");
}

TEST_CASE("every parameter's default is a valid value of its own row", "[core][params]") {
  const TrialParams defaults;
  for (const TrialParamInfo& info : TrialParamTable()) {
    INFO(info.name);
    const json value = std::visit([&](auto field) { return json(defaults.*field); }, info.field);
    if (info.type == TrialParamType::kPath) {
      CHECK(value == "");  // no weights unless given
      continue;
    }
    CHECK(CheckTrialParamValue(info, value).empty());
    CHECK(FindTrialParam(info.name) == &info);
  }
  CHECK(KnownTrialParams().size() == TrialParamTable().size());
}

TEST_CASE("a misspelt parameter name finds the closest known one", "[core][params]") {
  CHECK(ClosestTrialParam("leraning_rate") == "lr");
  CHECK(ClosestTrialParam("learning_rate") == "lr");
  CHECK(ClosestTrialParam("batchsize") == "batch_size");
  CHECK(ClosestTrialParam("optimiser") == "optimizer");
  CHECK(ClosestTrialParam("zebra").empty());
}

TEST_CASE("studies/README.md lists the parameters of the table", "[core][params][readme]") {
  const std::string path = std::string(ENSWEEP_SOURCE_DIR) + "/studies/README.md";
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const size_t begin = text.find(kTrialParamsBegin);
  const size_t end = text.find(kTrialParamsEnd);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const size_t from = begin + std::string(kTrialParamsBegin).size() + 1;  // after its line
  const std::string expected = TrialParamsMarkdown();
  if (std::getenv("ENSWEEP_UPDATE_README") != nullptr) {
    text.replace(from, end - from, expected);
    std::ofstream(path) << text;
    return;
  }
  INFO(
      "studies/README.md's parameter table differs from core/trial_params.cc; regenerate it with\n"
      "  ENSWEEP_UPDATE_README=1 <build>/tests/core/core_test '[readme]'");
  CHECK(text.substr(from, end - from) == expected);
}

}  // namespace ensweep
