#include "worker/trial_params.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ensweep {

using nlohmann::json;

TEST_CASE("trial parameters default to the documented values", "[worker][params]") {
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

TEST_CASE("trial parameters are read from the sampled values", "[worker][params]") {
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

TEST_CASE("an unknown trial parameter is rejected with the known names", "[worker][params]") {
  REQUIRE_THROWS_AS(ParseTrialParams(json{{"learning_rate", 0.1}}, 1), std::invalid_argument);
  REQUIRE_THROWS_WITH(
      ParseTrialParams(json{{"learning_rate", 0.1}}, 1),
      Catch::Contains("'learning_rate'") && Catch::Contains("lr") && Catch::Contains("batch_size"));
}

TEST_CASE("bad trial parameter values are rejected with what was expected", "[worker][params]") {
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

TEST_CASE("trial parameters that contradict each other are rejected", "[worker][params]") {
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

}  // namespace ensweep
