// TPE quality and proposal latency, the sampler alone (no coordinator): see README.md.
//   search_bench quality [trials] [seeds] [first_seed]   median regret (quartiles) on Branin and
//                                                        Hartmann6, seeds first_seed.. (default 0)
//   search_bench tune trials seeds first_seed candidates gamma [multivariate] [refine=K]
//                                           the same for one TPE setting (how the defaults were
//                                           chosen, on seeds 200-999); refine=K sets
//                                           SamplerSpec::refine_after_per_param (0: Optuna's clip)
//   search_bench latency [history...]       TPE proposal time at the given history sizes
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "objectives/functions.h"
#include "search/sampler.h"

using namespace ensweep;

namespace {

StudySpec Spec(const std::string& problem, const std::string& type, uint64_t seed,
               bool multivariate, int candidates = 0) {
  Json space = Json::object();
  if (problem == "branin") {
    space = {{"x1", {{"uniform", {-5, 10}}}}, {"x2", {{"uniform", {0, 15}}}}};
  } else {
    for (int i = 1; i <= 6; ++i) space["x" + std::to_string(i)] = {{"uniform", {0, 1}}};
  }
  const Json doc = {{"study", "bench"},
                    {"trainer", {{"type", problem}}},
                    {"objective", {{"metric", "value"}, {"direction", "minimize"}}},
                    {"sampler", {{"type", type}, {"seed", seed}, {"multivariate", multivariate}}},
                    {"space", space}};
  StudySpec spec = ParseStudy(doc, "bench", "/");
  if (candidates > 0) spec.sampler.candidates = candidates;
  return spec;
}

double Evaluate(const std::string& problem, const Json& p) {
  if (problem == "branin") return Branin(p["x1"].get<double>(), p["x2"].get<double>());
  std::array<double, 6> x;
  for (size_t i = 0; i < 6; ++i) x[i] = p["x" + std::to_string(i + 1)].get<double>();
  return Hartmann6(x);
}

std::vector<TrialRecord> Run(const StudySpec& spec, const std::string& problem, int trials) {
  auto sampler = MakeSampler(spec);
  std::vector<TrialRecord> history;
  for (int n = 0; n < trials; ++n) {
    TrialRecord t;
    t.number = n;
    t.params = sampler->Propose(n, Json::object(), history);
    t.state = TrialState::kComplete;
    t.value = Evaluate(problem, t.params);
    history.push_back(t);
  }
  return history;
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);  // linear interpolation
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// One sampler configuration: type, multivariate, candidates and gamma (0: the study default).
struct Variant {
  std::string label, type;
  bool multivariate = false;
  int candidates = 0;
  double gamma = 0;
  double refine = -1;  // refine_after_per_param; < 0: the default
};

void Quality(int trials, int seeds, int first_seed, const std::vector<Variant>& variants) {
  for (const std::string problem : {"branin", "hartmann6"}) {
    const double minimum = problem == "branin" ? kBraninMinimum : kHartmann6Minimum;
    for (const Variant& v : variants) {
      std::vector<double> regrets;
      for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
        double best = 1e300;
        StudySpec spec =
            Spec(problem, v.type, static_cast<uint64_t>(seed), v.multivariate, v.candidates);
        if (v.gamma > 0) spec.sampler.gamma = v.gamma;
        if (v.refine >= 0) spec.sampler.refine_after_per_param = v.refine;
        for (const auto& t : Run(spec, problem, trials)) {
          best = std::min(best, *t.value);
        }
        regrets.push_back(best - minimum);
      }
      std::printf("%-10s %-26s median regret %.4f  quartiles [%.4f, %.4f]\n", problem.c_str(),
                  v.label.c_str(), Quantile(regrets, 0.5), Quantile(regrets, 0.25),
                  Quantile(regrets, 0.75));
      std::fflush(stdout);
    }
  }
}

// CPU time of the calling thread: less sensitive than wall time to other load on the machine.
double ThreadCpuMs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

void Latency(int history_size) {
  for (bool multivariate : {false, true}) {
    const StudySpec spec = Spec("branin", "random", 0, false);
    std::vector<TrialRecord> history = Run(spec, "branin", history_size);
    StudySpec tpe = Spec("branin", "tpe", 0, multivariate);
    auto sampler = MakeSampler(tpe);
    std::vector<double> ms, cpu_ms;
    for (int i = 0; i < 21; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = ThreadCpuMs();
      const Json p = sampler->Propose(history_size + i, Json::object(), history);
      cpu_ms.push_back(ThreadCpuMs() - cpu_start);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      if (p.empty()) std::abort();
    }
    std::printf(
        "ensweep TPE%s proposal at %d trials of history (2 parameters): median %.3f ms "
        "(thread CPU time %.3f ms)\n",
        multivariate ? " multivariate" : "", history_size, Quantile(ms, 0.5),
        Quantile(cpu_ms, 0.5));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "quality";
  const int trials = argc > 2 ? std::atoi(argv[2]) : 100;
  const int seeds = argc > 3 ? std::atoi(argv[3]) : 20;
  const int first_seed = argc > 4 ? std::atoi(argv[4]) : 0;
  if (mode == "quality") {
    Quality(trials, seeds, first_seed,
            {{"ensweep-tpe", "tpe"},
             {"ensweep-tpe-24-candidates", "tpe", false, 24},
             {"ensweep-tpe-optuna-clip", "tpe", false, 0, 0, 0},
             {"ensweep-tpe-multivariate", "tpe", true},
             {"ensweep-random", "random"}});
  } else if (mode == "tune" && argc > 6) {
    Variant v{std::string("tpe c") + argv[5] + " g" + argv[6], "tpe", false, std::atoi(argv[5]),
              std::atof(argv[6])};
    for (int i = 7; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "multivariate") {
        v.multivariate = true;
        v.label += " mv";
      } else if (arg.rfind("refine=", 0) == 0) {
        v.refine = std::atof(arg.c_str() + 7);
        v.label += " " + arg;
      } else {
        std::fprintf(stderr, "search_bench tune: unknown argument '%s'\n", argv[i]);
        return 2;
      }
    }
    Quality(trials, seeds, first_seed, {v});
  } else if (mode == "latency") {
    for (int i = 2; i < argc; ++i) Latency(std::atoi(argv[i]));
    if (argc == 2) Latency(1000), Latency(10000);
  } else {
    std::fprintf(stderr,
                 "usage: search_bench quality [trials] [seeds] [first_seed]\n"
                 "       search_bench tune trials seeds first_seed candidates gamma [multivariate] "
                 "[refine=K]\n"
                 "       search_bench latency [history...]\n");
    return 2;
  }
  return 0;
}
