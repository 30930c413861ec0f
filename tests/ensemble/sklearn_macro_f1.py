#!/usr/bin/python3
"""Reference scores for ensemble_test: scikit-learn's f1_score(average="macro").

Usage: sklearn_macro_f1.py LABELS SUBMISSION [LABELS SUBMISSION ...]

Each file is an ImageID,ans or a path,label CSV. For every pair, prints on one line the macro F1
of the submission's labels against the labels file's, rows joined on the image id, in the labels
file's order. Exits with status 3, saying why, if scikit-learn cannot be imported.
"""
import csv
import sys

try:
    from sklearn.metrics import f1_score
except ImportError as error:
    print(f"scikit-learn cannot be imported: {error}", file=sys.stderr)
    sys.exit(3)


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    id_col = header.index("ImageID" if "ImageID" in header else "path")
    label_col = header.index("ans" if "ans" in header else "label")
    return {row[id_col]: row[label_col] for row in rows[1:] if row}


def main(args):
    if not args or len(args) % 2:
        sys.exit("usage: sklearn_macro_f1.py LABELS SUBMISSION [LABELS SUBMISSION ...]")
    for labels_path, submission_path in zip(args[0::2], args[1::2]):
        truth = read(labels_path)
        predicted = read(submission_path)
        ids = list(truth)
        score = f1_score([truth[i] for i in ids], [predicted[i] for i in ids],
                         average="macro", zero_division=0)
        print(repr(float(score)))


if __name__ == "__main__":
    main(sys.argv[1:])
