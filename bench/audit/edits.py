#!/usr/bin/env python3
"""Edit lists for bench/audit/exclude.sh, in the format data.exclude and data.relabel read
(suspects.csv).

  edits.py injected NOISE_CSV OUT_CSV
      every person datagen gave a wrong label, with the given and the true value (the best an
      audit could find; to exclude, or to relabel to the truth)
  edits.py random NOISE_CSV VAL_INDEX_CSV N SEED OUT_CSV
      N persons drawn (seeded) from the rightly labelled ones: how much leaving out N persons
      moves the score when none of them is wrong
"""
import csv
import random
import sys

from evaluate import field_values

HEADER = ["level", "person", "image", "field", "given", "suggested", "score"]
GENDER = ["male", "female"]
AGE = ["0-29", "30-59", "60+"]


def wrong_persons(noise_csv):
    """person -> (field, given value, true value), from datagen's train_label_noise.csv."""
    wrong = {}
    with open(noise_csv, newline="") as f:
        for row in csv.DictReader(f):
            person = row["path"].split("/")[-2]
            given = field_values(int(row["given_label"]))
            true = field_values(int(row["true_label"]))
            for field, names in (("gender", GENDER), ("age", AGE)):
                if given[field] != true[field]:
                    wrong[person] = (field, names[given[field]], names[true[field]])
    return wrong


def main():
    mode = sys.argv[1]
    wrong = wrong_persons(sys.argv[2])
    rows = []
    if mode == "injected":
        out = sys.argv[3]
        rows = [["person", p, "", f, g, t, "1"] for p, (f, g, t) in sorted(wrong.items())]
    elif mode == "random":
        index, n, seed, out = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        with open(index, newline="") as f:
            persons = sorted({r["person"] for r in csv.DictReader(f)} - set(wrong))
        random.Random(seed).shuffle(persons)
        rows = [["person", p, "", "gender", "", "", "0"] for p in persons[:n]]
    else:
        sys.exit(f"edits.py: unknown mode {mode!r} (injected or random)")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


if __name__ == "__main__":
    main()
