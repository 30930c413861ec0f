#!/usr/bin/env python3
"""Eval scores of every trial of a study, and of their mean, from the stored eval predictions.

  trial_scores.py ARTIFACTS_DIR DATA_DIR

Reads ARTIFACTS_DIR/trial-*/eval_probs.npy (rows in DATA_DIR/eval/info.csv order) and
DATA_DIR/eval_labels.csv, and prints, for each trial, the macro F1 over the 18 classes (the mean
over classes present in the labels or the predictions, as `ensweep score` computes it), the
accuracy, and the accuracy of each field; then the mean and range over the trials, and the scores
of the uniform average of all trials' probabilities.
"""
import csv
import glob
import os
import sys

import numpy as np

from evaluate import field_values


def macro_f1(pred, y):
    scores = []
    for c in range(18):
        tp = np.sum((pred == c) & (y == c))
        wrong = np.sum((pred == c) != (y == c))
        if tp + wrong:
            scores.append(2 * tp / (2 * tp + wrong))
    return float(np.mean(scores))


def scores(probs, y):
    pred = probs.argmax(1)
    fields = field_values(pred), field_values(y)
    return [macro_f1(pred, y), float(np.mean(pred == y))] + [
        float(np.mean(fields[0][f] == fields[1][f])) for f in ("mask", "gender", "age")]


def main():
    artifacts, data = sys.argv[1], sys.argv[2]
    with open(os.path.join(data, "eval", "info.csv"), newline="") as f:
        ids = [r["ImageID"] for r in csv.DictReader(f)]
    with open(os.path.join(data, "eval_labels.csv"), newline="") as f:
        labels = {r["ImageID"]: int(r["ans"]) for r in csv.DictReader(f)}
    y = np.array([labels[i] for i in ids])
    trials = sorted(glob.glob(os.path.join(artifacts, "trial-*")))
    if not trials:
        sys.exit(f"trial_scores.py: no trial-* folder under {artifacts}")
    probs = [np.load(os.path.join(t, "eval_probs.npy")) for t in trials]
    rows = [scores(p, y) for p in probs]
    print(f"{'':12}" + "".join(f"{h:>10}" for h in ("macro_f1", "accuracy", "mask", "gender", "age")))
    for trial, row in zip(trials, rows):
        print(f"{os.path.basename(trial):12}" + "".join(f"{v:10.4f}" for v in row))
    table = np.array(rows)
    print(f"{'mean':12}" + "".join(f"{v:10.4f}" for v in table.mean(0)))
    print(f"{'min':12}" + "".join(f"{v:10.4f}" for v in table.min(0)))
    print(f"{'max':12}" + "".join(f"{v:10.4f}" for v in table.max(0)))
    print(f"{'averaged':12}" + "".join(f"{v:10.4f}" for v in scores(np.mean(probs, 0), y)))


if __name__ == "__main__":
    main()
