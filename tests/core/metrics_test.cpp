#include "core/metrics.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

using namespace ensweep;

TEST_CASE("macro F1 matches a hand-computed three-class case", "[core][metrics]") {
  // truth:     0 0 1 1 2 2
  // predicted: 0 1 1 1 2 0
  // class 0: TP 1, FP 1, FN 1 -> F1 = 2/4 = 0.5
  // class 1: TP 2, FP 1, FN 0 -> F1 = 4/5 = 0.8
  // class 2: TP 1, FP 0, FN 1 -> F1 = 2/3
  const auto m = Confusion({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 2, 0}, 3);
  CHECK(m.Accuracy() == Approx(4.0 / 6.0));
  const auto f1 = m.PerClassF1();
  CHECK(f1[0] == Approx(0.5));
  CHECK(f1[1] == Approx(0.8));
  CHECK(f1[2] == Approx(2.0 / 3.0));
  CHECK(m.MacroF1() == Approx((0.5 + 0.8 + 2.0 / 3.0) / 3.0));
}

TEST_CASE("macro F1 leaves out classes absent from both truth and predictions, as scikit-learn",
          "[core][metrics]") {
  // Perfect predictions on two of four classes: scikit-learn's f1_score(average="macro") averages
  // over the two classes that occur, so 1, not (1 + 1 + 0 + 0) / 4.
  const auto m = Confusion({0, 1, 1}, {0, 1, 1}, 4);
  CHECK(m.Accuracy() == Approx(1.0));
  CHECK(m.PresentClasses() == 2);
  CHECK(m.MacroF1() == Approx(1.0));
  // Twelve of eighteen classes, predicted perfectly: 1.
  std::vector<int> twelve;
  for (int i = 0; i < 48; ++i) twelve.push_back(i % 12);
  CHECK(Confusion(twelve, twelve, 18).MacroF1() == Approx(1.0));
}

TEST_CASE("a class predicted but never true has F1 zero and counts in the macro F1",
          "[core][metrics]") {
  const auto m = Confusion({0, 0}, {1, 0}, 3);
  CHECK(m.PerClassF1()[1] == Approx(0.0));
  CHECK(m.PerClassF1()[0] == Approx(2.0 / 3.0));
  CHECK(m.PresentClasses() == 2);
  CHECK(m.MacroF1() == Approx((2.0 / 3.0 + 0.0) / 2.0));
}

TEST_CASE("macro F1 of an empty matrix is 0 and counts give the matrix's macro F1",
          "[core][metrics]") {
  CHECK(ConfusionMatrix(5).MacroF1() == 0.0);
  CHECK(MacroF1FromCounts({0, 0}, {0, 0}, {0, 0}) == 0.0);
  // The three-class case above as counts, plus a fourth class that occurs nowhere.
  CHECK(MacroF1FromCounts({1, 2, 1, 0}, {1, 1, 0, 0}, {1, 0, 1, 0}) ==
        Approx((0.5 + 0.8 + 2.0 / 3.0) / 3.0));
}

TEST_CASE("argmax takes the first maximum and log loss is clamped", "[core][metrics]") {
  const std::vector<float> probs = {0.2f, 0.5f, 0.5f, 1.0f, 0.0f, 0.0f};
  CHECK(ArgmaxRows(probs, 2, 3) == std::vector<int>{1, 0});
  CHECK(LogLoss(probs, 3, {1, 0}) == Approx((-std::log(0.5) - std::log(1.0)) / 2));
  CHECK(LogLoss(probs, 3, {0, 1}) == Approx((-std::log(0.2) - std::log(1e-15)) / 2));
}

TEST_CASE("labels outside the class range are rejected", "[core][metrics]") {
  ConfusionMatrix m(3);
  CHECK_THROWS(m.Add(3, 0));
  CHECK_THROWS(m.Add(0, -1));
}
