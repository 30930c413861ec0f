"""The peer of greedy_bench: Caruana et al. (2004) forward selection with replacement, sorted
initialisation from the best single candidate, macro F1 over all classes, written the way Python
AutoML libraries write it (auto-sklearn's and AutoGluon's EnsembleSelection keep a running sum of
the picked candidates' probabilities and score every candidate added to it each round), but
vectorised with NumPy over chunks of candidates instead of a Python loop over them, so that the
peer is as fast as NumPy allows.

Reads the data greedy_bench --dump DIR wrote, runs the same selection (same rounds), times it,
and checks it against greedy_bench's own selection: the per-round scores must agree up to the
first round where several candidates tie (ensweep breaks ties with a seeded RNG, this peer takes
the lowest index), and the picks must be the same up to there.

Usage: /usr/bin/python3 bench/ensemble/numpy_peer.py DIR [ROUNDS] [REPEATS]
"""
import statistics
import sys
import time

import numpy as np


def macro_f1_of_chunk(pred, labels, true_count, classes):
    """Macro F1 (every class counts; a class with no true and no predicted rows scores 0) of each
    row of `pred` (chunk x rows of predicted classes). The benchmark's labels hold every class,
    so this equals ensweep's macro F1 over the classes present in the truth or the predictions."""
    chunk = pred.shape[0]
    offsets = (np.arange(chunk) * classes)[:, None]
    predicted = np.bincount((pred + offsets).ravel(), minlength=chunk * classes).reshape(chunk, classes)
    hit = pred == labels[None, :]
    true_positive = np.bincount((pred + offsets)[hit], minlength=chunk * classes).reshape(chunk, classes)
    denominator = predicted + true_count[None, :]
    f1 = np.divide(2.0 * true_positive, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    return f1.mean(axis=1)


def select(probs, labels, rounds, chunk=50):
    candidates, rows, classes = probs.shape
    true_count = np.bincount(labels, minlength=classes)
    total = np.zeros((rows, classes), dtype=np.float32)
    picks, trajectory, ties = [], [], []
    for _ in range(rounds):
        scores = np.empty(candidates)
        for start in range(0, candidates, chunk):
            blended = total[None, :, :] + probs[start:start + chunk]
            scores[start:start + chunk] = macro_f1_of_chunk(blended.argmax(axis=2), labels, true_count, classes)
        best = int(np.argmax(scores))
        ties.append(int(np.sum(scores >= scores[best] - 1e-12)))
        picks.append(best)
        trajectory.append(float(scores[best]))
        total += probs[best]
    return picks, trajectory, ties


def main():
    folder = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    candidates, rows, classes = (int(v) for v in open(f"{folder}/shape.txt").read().split())
    probs = np.fromfile(f"{folder}/probs.f32", dtype=np.float32).reshape(candidates, rows, classes)
    labels = np.fromfile(f"{folder}/labels.i32", dtype=np.int32).astype(np.int64)
    seconds = []
    for repeat in range(repeats):
        start = time.perf_counter()
        picks, trajectory, ties = select(probs, labels, rounds)
        seconds.append(time.perf_counter() - start)
        print(f"run {repeat + 1}: {seconds[-1]:.3f} s wall (best score {max(trajectory):.4f})", flush=True)
    print(f"median {statistics.median(seconds):.3f} s wall: numpy peer, {candidates} candidates x {rows} rows x "
          f"{classes} classes, {rounds} rounds, numpy {np.__version__}")

    theirs = [line.split() for line in open(f"{folder}/ensweep_selection.txt")]
    their_picks = [int(p) for p, _ in theirs]
    their_scores = [float(s) for _, s in theirs]
    agree = 0
    for r in range(min(rounds, len(theirs))):
        if abs(trajectory[r] - their_scores[r]) > 1e-9 or picks[r] != their_picks[r]:
            break
        agree += 1
    first_tie = next((r for r, t in enumerate(ties) if t > 1), None)
    print(f"agreement with ensweep: picks and scores identical for the first {agree} of {rounds} rounds"
          + (f"; first tie in this run at round {first_tie + 1}" if first_tie is not None else "; no ties")
          + f"; best score ensweep {max(their_scores[:rounds]):.4f}, peer {max(trajectory):.4f}")
    must_agree = rounds if first_tie is None else first_tie  # rounds before any tie
    if agree < must_agree:
        print("DISAGREEMENT before any tie: the two selections differ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
