"""Optuna's peer of the dashboard's first paint: the store's finished trials added to an in-memory
Optuna study, then plot_optimization_history and plot_param_importances (fANOVA, Optuna's
default evaluator), each timed. Reads the store read-only with sqlite3.

  optuna_peer.py STORE STUDY
"""
import json
import sqlite3
import sys
import time

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

optuna.logging.set_verbosity(optuna.logging.WARNING)
store, name = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
spec_text, direction, study_id = db.execute(
    "SELECT spec, direction, id FROM studies WHERE name = ?", (name,)).fetchone()
spec = json.loads(spec_text)


def distribution(p):
    if "choice" in p:
        return CategoricalDistribution(p["choice"])
    if "log_uniform" in p:
        return FloatDistribution(*p["log_uniform"], log=True)
    if "uniform" in p:
        return FloatDistribution(*p["uniform"])
    if "int" in p:
        return IntDistribution(int(p["int"][0]), int(p["int"][1]), log=bool(p.get("log", False)))
    return None


distributions = {}
for key, p in spec["space"].items():
    d = distribution(p) if isinstance(p, dict) else None
    if d is not None:
        distributions[key] = d
states = {"COMPLETE": optuna.trial.TrialState.COMPLETE, "PRUNED": optuna.trial.TrialState.PRUNED,
          "FAILED": optuna.trial.TrialState.FAIL}
start = time.perf_counter()
trials = []
for state, params, value in db.execute(
        "SELECT state, params, value FROM trials WHERE study_id = ? AND state IN "
        "('COMPLETE', 'PRUNED', 'FAILED') ORDER BY number", (study_id,)):
    params = {k: v for k, v in json.loads(params).items() if k in distributions}
    trials.append(optuna.trial.create_trial(
        params=params, distributions={k: distributions[k] for k in params},
        value=value if state == "COMPLETE" else None, state=states[state]))
study = optuna.create_study(direction=direction)
study.add_trials(trials)
print(f"optuna {optuna.__version__}: {len(trials)} trials exported to an in-memory study in "
      f"{time.perf_counter() - start:.1f} s")
for label, plot in (("plot_optimization_history", optuna.visualization.plot_optimization_history),
                    ("plot_param_importances", optuna.visualization.plot_param_importances)):
    start = time.perf_counter()
    plot(study)
    print(f"optuna.visualization.{label}: {time.perf_counter() - start:.2f} s")
