#!/usr/bin/env python3
"""Scores `ensweep audit` rankings against the errors datagen injected.

  evaluate.py NOISE_CSV SUSPECTS_CSV [SUSPECTS_CSV ...]

NOISE_CSV is datagen's train_label_noise.csv (path,given_label,true_label; one row per photo of a
person whose gender or age label is wrong). For each field (gender, age: per person; mask: per
image) n is the number of injected errors of that field, and the ranking's first n suspects of the
field are compared with them: precision = right / suspects listed (at most n), recall = right / n.
Prints one markdown table row per (file, field).
"""
import csv
import sys


def field_values(cls):
    return {"mask": cls // 6, "gender": (cls // 3) % 2, "age": cls % 3}


def injected(noise_csv):
    errors = {"mask": set(), "gender": set(), "age": set()}
    with open(noise_csv, newline="") as f:
        for row in csv.DictReader(f):
            parts = row["path"].split("/")  # train/images/<person>/<stem>.<ext>
            person, image = parts[-2], "/".join(parts[-3:])
            given, true = field_values(int(row["given_label"])), field_values(int(row["true_label"]))
            for field in errors:
                if given[field] != true[field]:
                    errors[field].add(image if field == "mask" else person)
    return errors


def ranking(suspects_csv, field):
    with open(suspects_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["field"] == field]
    rows.sort(key=lambda r: -float(r["score"]))
    return [r["image"] if r["level"] == "image" else r["person"] for r in rows]


def main():
    errors = injected(sys.argv[1])
    print("| ranking | field | injected n | listed (of n) | right | precision@n | recall@n |")
    print("|---|---|---|---|---|---|---|")
    for path in sys.argv[2:]:
        for field in ("gender", "age", "mask"):
            n = len(errors[field])
            ranked = ranking(path, field)
            if n == 0:
                print(f"| {path} | {field} | 0 | - | - | - | - ({len(ranked)} listed, all false) |")
                continue
            top = ranked[:n]
            right = sum(1 for x in top if x in errors[field])
            precision = right / len(top) if top else 0.0
            print(f"| {path} | {field} | {n} | {len(top)} | {right} | {precision:.3f} | {right / n:.3f} |")


if __name__ == "__main__":
    main()
