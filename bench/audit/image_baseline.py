#!/usr/bin/env python3
"""The simplest label-error ranking, for comparison with `ensweep audit`: every training image
ranked by the predicted probability of its given label (one of the 18 classes), lowest first.

  image_baseline.py OUT_CSV TRIAL_DIR [TRIAL_DIR ...]

TRIAL_DIR: a k-fold trial's artifact folder (val_probs.npy, val_index.csv); the out-of-fold
probabilities of several trials are averaged, as `ensweep audit --trials K` does, so that the
rankings differ only in how they score. The ranking knows nothing of fields or persons; to be
scored per field by evaluate.py it is written in suspects.csv's columns: one row per image for
mask, and for gender and age one row per person scored by their lowest-probability photo (where
the person first appears in the image ranking), so both fields get the same person order.
"""
import csv
import sys

import numpy as np

from evaluate import field_values as fields


def main():
    out_csv, trials = sys.argv[1], sys.argv[2:]
    probs = np.mean([np.load(f"{t}/val_probs.npy") for t in trials], axis=0)
    with open(f"{trials[0]}/val_index.csv", newline="") as f:
        index = list(csv.DictReader(f))
    labels = np.array([int(r["label"]) for r in index])
    score = 1.0 - probs[np.arange(len(labels)), labels]
    other = probs.copy()
    other[np.arange(len(labels)), labels] = -1.0
    suggested = other.argmax(axis=1)
    rows, worst = [], {}
    for i, r in enumerate(index):
        parts = r["path"].split("/")
        image = "/".join(parts[-3:])  # train/images/<person>/<file>, as evaluate.py keys images
        given, sugg = fields(labels[i]), fields(int(suggested[i]))
        rows.append(["image", r["person"], image, "mask", given["mask"], sugg["mask"], score[i]])
        if r["person"] not in worst or score[i] > worst[r["person"]][0]:
            worst[r["person"]] = (score[i], given, sugg)
    for person, (s, given, sugg) in worst.items():
        for field in ("gender", "age"):
            rows.append(["person", person, "", field, given[field], sugg[field], s])
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["level", "person", "image", "field", "given", "suggested", "score"])
        for row in rows:
            w.writerow(row[:6] + [f"{row[6]:.6f}"])


if __name__ == "__main__":
    main()
