#!/usr/bin/python3
"""Reference importances for the importance tests, from Optuna's fANOVA.

Usage:
  optuna_importance.py study INPUT.json   Optuna's get_param_importances (FanovaImportanceEvaluator,
                                          seeded) of a study rebuilt from INPUT.json:
                                          {"space": the study's normalised space, "direction":
                                          "minimize" or "maximize", "seed": n, "trials":
                                          [{"params": {...}, "value": v}, ...]} (COMPLETE trials).
                                          Prints {"param": importance, ...} as JSON.
  optuna_importance.py tree INPUT.json    Optuna's _FanovaTree on trees that ensweep grew (a JSON
                                          list of analysis/importance.h's FirstImportanceTree).
                                          Prints, per tree, the list of each parameter's share of
                                          the tree's variance, as JSON.

Exits with status 3, saying why, if Optuna, scikit-learn or numpy cannot be imported.
"""
import json
import sys

try:
    import numpy
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    import sklearn  # noqa: F401  (Optuna's fANOVA fits scikit-learn's random forest)
except ImportError as error:
    print(f"Optuna's fANOVA cannot be imported: {error}", file=sys.stderr)
    sys.exit(3)


def distribution(spec):
    """The Optuna distribution of one parameter of ensweep's normalised space; None: constant."""
    if "uniform" in spec:
        return FloatDistribution(*spec["uniform"])
    if "log_uniform" in spec:
        return FloatDistribution(*spec["log_uniform"], log=True)
    if "int" in spec:
        log = spec.get("log", False)
        return IntDistribution(*spec["int"], log=log, step=1 if log else spec.get("step", 1))
    if "choice" in spec:
        return CategoricalDistribution(spec["choice"])
    return None


def study_importances(data):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = {name: distribution(spec if isinstance(spec, dict) else {})
             for name, spec in data["space"].items()}
    space = {name: d for name, d in space.items() if d is not None}
    study = optuna.create_study(direction=data["direction"])
    for trial in data["trials"]:
        params = {k: v for k, v in trial["params"].items() if k in space}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: space[k] for k in params}, value=trial["value"]))
    evaluator = FanovaImportanceEvaluator(seed=data["seed"])
    return dict(get_param_importances(study, evaluator=evaluator))


class _Tree:
    """The attributes of scikit-learn's tree that Optuna's _FanovaTree reads."""

    def __init__(self, data):
        nodes = data["nodes"]
        leaf = [n[0] < 0 for n in nodes]
        self.feature = numpy.array([-2 if is_leaf else n[0] for n, is_leaf in zip(nodes, leaf)])
        self.threshold = numpy.array([-2.0 if is_leaf else n[1] for n, is_leaf in zip(nodes, leaf)])
        self.children_left = numpy.array([n[2] for n in nodes])
        self.children_right = numpy.array([n[3] for n in nodes])
        self.value = numpy.array([[[n[1] if is_leaf else 0.0]] for n, is_leaf in zip(nodes, leaf)])
        self.node_count = len(nodes)
        self.n_features = data["columns"]


def tree_fractions(data):
    try:
        from optuna.importance._fanova._tree import _FanovaTree
    except ImportError as error:
        print(f"Optuna's _FanovaTree cannot be imported: {error}", file=sys.stderr)
        sys.exit(3)
    tree = _FanovaTree(_Tree(data), numpy.array([[0.0, 1.0]] * data["columns"]))
    total = tree.variance
    return [tree.get_marginal_variance(numpy.array(p["columns"])) / total if p["columns"] else 0.0
            for p in data["params"]]


def main(args):
    if len(args) != 2 or args[0] not in ("study", "tree"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[1]) as f:
        data = json.load(f)
    if args[0] == "study":
        result = study_importances(data)
    else:
        result = [tree_fractions(tree) for tree in data]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
