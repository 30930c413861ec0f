#!/usr/bin/python3
"""The peer for bench/search: Debian's python3-optuna on the same problems and settings.

  optuna_peer.py quality  [trials] [seeds] [first_seed]  median regret (quartiles) on Branin and Hartmann6
  optuna_peer.py overhead [trials]           trials/s, TPE + SQLite storage, instant objective
  optuna_peer.py latency  [history]          TPE proposal time with an in-memory history
Run with /usr/bin/python3 (the Debian interpreter that sees python3-optuna).
"""
import math, os, statistics, sys, tempfile, time
import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
BRANIN_MIN = 0.39788735772973816
HARTMANN6_MIN = -3.3223680114155147
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(t):
    x1, x2 = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
    b, c, s = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - s) * math.cos(x1) + 10


def hartmann6(t):
    x = [t.suggest_float(f"x{i + 1}", 0, 1) for i in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def quality(trials, seeds, first_seed=0):
    for name, fn, best in (("branin", branin, BRANIN_MIN), ("hartmann6", hartmann6, HARTMANN6_MIN)):
        for label, make in (("optuna-tpe", lambda s: optuna.samplers.TPESampler(seed=s)),
                            ("optuna-tpe-multivariate", lambda s: optuna.samplers.TPESampler(seed=s, multivariate=True)),
                            ("optuna-random", lambda s: optuna.samplers.RandomSampler(seed=s))):
            regrets = []
            for seed in range(first_seed, first_seed + seeds):
                study = optuna.create_study(sampler=make(seed))
                study.optimize(fn, n_trials=trials)
                regrets.append(study.best_value - best)
            q1, med, q3 = quartiles(regrets)
            print(f"{name:10s} {label:26s} median regret {med:.4f}  quartiles [{q1:.4f}, {q3:.4f}]", flush=True)


def overhead(trials):
    with tempfile.TemporaryDirectory() as d:
        storage = f"sqlite:///{os.path.join(d, 'optuna.sqlite')}"
        study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
        start = time.perf_counter()
        study.optimize(branin, n_trials=trials)
        seconds = time.perf_counter() - start
    print(f"optuna TPE + SQLite, 1 process: {trials} trials in {seconds:.1f} s = {trials / seconds:.1f} trials/s")


def latency(history):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(branin, n_trials=history)
    study.sampler = optuna.samplers.TPESampler(seed=0)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        trial = study.ask()
        branin(trial)
        times.append(time.perf_counter() - start)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # keep the history size fixed
    print(f"optuna TPE proposal at {history} trials of history: median {statistics.median(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "quality":
        quality(int(sys.argv[2]) if len(sys.argv) > 2 else 100, int(sys.argv[3]) if len(sys.argv) > 3 else 20,
                int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif mode == "overhead":
        overhead(int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
    elif mode == "latency":
        latency(int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
